"""Canonical article links: the one dedup key for links, computed in one place. No I/O."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; they never change which story a link is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "ysclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "cmpid",
        "ito",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "spm",
        "from",
        "smid",
        "ncid",
        "rss",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "amp",
    }
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "oly_")


def is_tracking_param(name: str) -> bool:
    """True for a query parameter that only tracks the reader (``utm_source``, ``fbclid``...)."""
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


# Host prefixes that only select a rendering of the same site: the mobile and AMP
# editions and ``www.``. Folded away only when a registrable domain remains.
_EDITION_PREFIXES = ("www.", "m.", "mobile.", "amp.")
# Second-level labels under which registrations happen (``co.uk``, ``com.ua``): a host
# whose remainder would be ``co.uk`` keeps its prefix. A short list, not the Public Suffix
# List: it errs towards keeping a host apart (two links not merged), never towards merging.
_REGISTRY_LABELS = frozenset(
    {"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "in", "kiev", "kyiv"}
)
_AMP_CACHE = ".cdn.ampproject.org"


def canonical_url(url: str | None) -> str | None:
    """Return the one dedup key of a link: the same article however it was linked.

    Scheme and host lower-cased; default port, fragment, tracking parameters and
    ``outputType=amp`` removed (other parameters kept in order); the mobile, AMP and
    ``www.`` host prefixes folded (``m.example.com`` -> ``example.com``, but ``amp.dev``
    and ``m.co.uk`` stay); an ``amp`` path segment at either end and a ``.amp`` suffix
    removed (``/news/1/amp/``, ``/amp/news/1``, ``/news/1.amp``); an AMP-cache link
    (``*.cdn.ampproject.org/c/s/...``) read as the page it caches; a trailing slash
    removed. Returns None for an empty or non-http(s) URL (those are not used for dedup).
    """
    if not url:
        return None
    try:
        parts = urlsplit(_uncached(url.strip()))
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = _site_host(parts.hostname.lower().rstrip("."))
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k) and not (k.lower() == "outputtype" and v.lower() == "amp")
    ]
    return urlunsplit((scheme, host, _article_path(parts.path), urlencode(query, doseq=True), ""))


def _uncached(url: str) -> str:
    """The page an AMP-cache link serves (``https://x-org.cdn.ampproject.org/c/s/x.org/a``
    -> ``https://x.org/a``); any other URL as it is."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return url
    if not host.endswith(_AMP_CACHE):
        return url
    for prefix, scheme in (
        ("/c/s/", "https"),
        ("/v/s/", "https"),
        ("/c/", "http"),
        ("/v/", "http"),
    ):
        if parts.path.startswith(prefix) and len(parts.path) > len(prefix):
            rest = parts.path[len(prefix) :]
            return f"{scheme}://{rest}" + (f"?{parts.query}" if parts.query else "")
    return url


def _site_host(host: str) -> str:
    """``host`` without one edition prefix when a registrable domain remains."""
    for prefix in _EDITION_PREFIXES:
        if host.startswith(prefix):
            rest = host[len(prefix) :]
            labels = rest.split(".")
            if len(labels) >= 3 or (len(labels) == 2 and labels[0] not in _REGISTRY_LABELS):
                return rest if all(labels) else host
            return host
    return host


def _article_path(path: str) -> str:
    """The path without its AMP marks and trailing slash (``/a/amp/`` -> ``/a``)."""
    inner = path.split("/")[1:]  # the path starts with "/" (or is empty)
    while inner and inner[-1] == "":
        inner.pop()
    if inner and inner[-1].lower() == "amp":
        inner.pop()
    if len(inner) > 1 and inner[0].lower() == "amp":
        inner.pop(0)
    if inner and inner[-1].lower().endswith(".amp") and len(inner[-1]) > 4:
        inner[-1] = inner[-1][:-4]
    elif inner and inner[-1].lower().endswith(".amp.html") and len(inner[-1]) > 9:
        inner[-1] = inner[-1][:-9] + ".html"
    return "/" + "/".join(inner)
