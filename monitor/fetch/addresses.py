"""Which network addresses a fetch may reach: the server-side request forgery policy. No I/O.

A feed's redirects and its articles' pages are URLs a third party chose. Left alone they
would make the daemon fetch its own loopback services, the LAN, or the cloud metadata
service (169.254.169.254) and store what they answer. So every address a request is about
to connect to is classified (:func:`address_class`) and checked against the request's
:class:`AddressPolicy`: public addresses are always allowed; a non-public class only when
the feed's own configured URL resolves to that same class (an operator who points a feed
at 127.0.0.1 or 10.0.0.5 trusts that network, not every other one), or when the config
says ``allow_private = true``. :func:`policy_for` builds the policy, :func:`refusal`
words the error. The connection itself is pinned to the checked address
(:mod:`monitor.fetch.transport`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from monitor.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressClass = Literal[
    "public", "loopback", "private", "link_local", "unspecified", "multicast", "reserved"
]
ADDRESS_CLASSES: tuple[AddressClass, ...] = get_args(AddressClass)

# How the refusal names each class (a person reads it in `monitor feeds`).
_DESCRIBED: dict[AddressClass, str] = {
    "public": "a public address",
    "loopback": "a loopback address",
    "private": "a private address",
    "link_local": "a link-local address (cloud metadata)",
    "unspecified": "the unspecified address (this machine)",
    "multicast": "a multicast address",
    "reserved": "a reserved address",
}
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)  # RFC 1918, RFC 6598 (carrier-grade NAT), RFC 4193 (unique local)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 host


def address_class(ip: IPAddress) -> AddressClass:
    """The class of ``ip``. An IPv6 address that carries an IPv4 one is classed by the
    IPv4 address it reaches: IPv4-mapped (``::ffff:10.0.0.1``) always, NAT64
    (``64:ff9b::a00:1``), 6to4 and the deprecated IPv4-compatible ``::a.b.c.d`` when that
    IPv4 address is not public (the last kind is never public itself). No I/O."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = address_class(embedded)
            if inner != "public" or ip.ipv4_mapped is not None:
                return inner
            if int(ip) >> 32 == 0:
                return "reserved"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return "private"
    return "public" if ip.is_global else "reserved"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or int(ip) >> 32 == 0:  # NAT64, or IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is a literal one (brackets and a zone allowed),
    else None (a name to resolve). No I/O."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The address classes one request may connect to; ``public`` is always among them.

    ``own_host`` / ``own_classes``: the classes a feed's own host *name* resolved to,
    allowed for that same name only. Whoever runs a public feed's DNS could answer
    127.0.0.1 once; that must not open loopback to its redirects and article links."""

    allowed: frozenset[AddressClass] = frozenset({"public"})
    allow_all: bool = False
    own_host: str = ""
    own_classes: frozenset[AddressClass] = frozenset()

    def permits(self, ip: IPAddress, host: str = "") -> bool:
        """True when a connection to ``ip`` (resolved from ``host``) is allowed. No I/O."""
        if self.allow_all or (cls := address_class(ip)) in self.allowed:
            return True
        return bool(host) and host.lower() == self.own_host and cls in self.own_classes


PUBLIC_ONLY = AddressPolicy()
ALLOW_ALL = AddressPolicy(frozenset(ADDRESS_CLASSES), allow_all=True)


def policy_for(
    origin: Iterable[IPAddress], *, allow_private: bool, host: str = ""
) -> AddressPolicy:
    """The policy of a feed (or a URL the operator gave) whose own ``host`` resolves to
    ``origin``: public addresses, plus each class ``origin`` is in — for any host when
    ``host`` is an address literal or ``localhost`` (the operator wrote the address),
    for that name alone otherwise (its DNS chose the address); everything with
    ``allow_private``. No I/O."""
    if allow_private:
        return ALLOW_ALL
    classes = frozenset(address_class(ip) for ip in origin)
    name = host.lower().strip("[]")
    if not name or parse_ip(name) is not None or name == "localhost":
        return AddressPolicy(frozenset({"public", *classes}))
    return AddressPolicy(own_host=name, own_classes=classes - {"public"})


def refusal(host: str, ip: IPAddress, *, redirect_from: str | None = None) -> FetchError:
    """The :class:`FetchError` for a connection to ``ip`` (``host`` resolved to it) that the
    policy refuses; ``redirect_from`` names the URL whose redirect led there. No I/O."""
    what = _DESCRIBED[address_class(ip)]
    where = host if host.strip("[]") == str(ip) else f"{host} ({ip})"
    via = f"{redirect_from} redirects to {where}," if redirect_from else f"{where} is"
    return FetchError(
        "private_address",
        f"{via} {what}: refused, since the feed's own URL is not on such an address "
        "(set allow_private = true on the feed, or in [fetch], if intended)",
    )
