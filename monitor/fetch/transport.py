"""The connections a fetch makes: resolved, checked, and pinned to the checked address.

httpx resolves a host name itself when it connects, so a check made before the request
could see a public address and the connection then go to a private one (DNS rebinding).
Here the httpcore network backend of the direct connection pool is :class:`GuardedBackend`:
it resolves the name once, drops every address the request's
:class:`~monitor.fetch.addresses.AddressPolicy` does not permit (refusing when none is
left), and connects to a checked address itself; TLS still verifies the certificate for
the host name, which httpcore passes on as the server name. :func:`http_client` builds
one ``httpx.AsyncClient`` per policy, so a kept-alive connection checked for one feed
never carries another feed's request.

Proxies (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` minus ``NO_PROXY``, read as httpx
reads them) resolve and connect for us: there :class:`_CheckedProxy` resolves the name
first and refuses a non-permitted answer, but the proxy resolves again and may get another
one (the rebinding window stays open there), and a name we cannot resolve is left to the
proxy. I/O: DNS lookups and sockets.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from urllib.request import getproxies

import httpcore
import httpx

from monitor.fetch.addresses import AddressPolicy, IPAddress, parse_ip, refusal

MAX_ADDRESSES = 3  # addresses of one name tried in turn before the connection fails
ResponseHook = Callable[[httpx.Response], Coroutine[Any, Any, None]]


async def resolve(host: str, port: int = 443) -> list[tuple[str, IPAddress]]:
    """The addresses ``host`` resolves to, in the resolver's order, each as the text to
    connect to (an IPv6 zone kept) and as an address; a literal IP is itself. Raises
    ``OSError`` (``socket.gaierror``) when the name does not resolve."""
    literal = parse_ip(host)
    if literal is not None:
        return [(host.strip("[]"), literal)]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[tuple[str, IPAddress]] = []
    for *_, sockaddr in infos:
        text = str(sockaddr[0])
        ip = parse_ip(text)
        if ip is not None and all(text != seen for seen, _ in found):
            found.append((text, ip))
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses ``policy`` permits,
    and to exactly the address it checked."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, refuse it when no address is permitted, else connect to the
        permitted ones in turn; raises :class:`~monitor.errors.FetchError` for a refusal
        and httpcore's ConnectError/ConnectTimeout like the default backend."""
        addresses = await _resolve_within(host, port, timeout)
        permitted = [text for text, ip in addresses if self.policy.permits(ip, host)]
        if not permitted:
            raise refusal(host, addresses[0][1])
        failure: httpcore.ConnectError | None = None
        for text in permitted[:MAX_ADDRESSES]:
            try:
                return await self._inner.connect_tcp(
                    text, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Not used: feeds are fetched over TCP only."""
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve_within(
    host: str, port: int, timeout: float | None
) -> list[tuple[str, IPAddress]]:
    """:func:`resolve` within the connect timeout, failures as httpcore reports them
    (so :func:`~monitor.fetch.failures.classify_transport_error` words them)."""
    try:
        async with asyncio.timeout(timeout):
            addresses = await resolve(host, port)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    if not addresses:
        raise httpcore.ConnectError(f"{host} resolves to no IP address")
    return addresses


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool on a :class:`GuardedBackend`."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=True)  # SSL_CERT_FILE / _DIR
        super().__init__(verify=ssl_context, limits=limits)
        # httpx takes no network backend, so the pool it built is replaced by the same
        # pool on ours (tests/test_ssrf.py fails if an httpx upgrade stops using it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )


class _CheckedProxy(httpx.AsyncBaseTransport):
    """A proxy transport that first checks what the request's host resolves to here."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: AddressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            addresses = await resolve(host, request.url.port or 443)
        except OSError:
            addresses = []  # only the proxy can resolve it: its answer is not ours to check
        for _, ip in addresses:
            if not self._policy.permits(ip, host):
                raise refusal(host, ip)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def proxy_mounts(
    policy: AddressPolicy, limits: httpx.Limits, environ_proxies: dict[str, str] | None = None
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """httpx ``mounts`` for the proxies of the environment, as httpx itself would mount
    them (``NO_PROXY`` hosts map to None: the direct, pinned transport); {} without any.
    ``environ_proxies`` is ``urllib.request.getproxies()`` unless given."""
    proxies = getproxies() if environ_proxies is None else environ_proxies
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for scheme in ("http", "https", "all"):
        if url := proxies.get(scheme):
            proxy = url if "://" in url else f"http://{url}"
            inner = httpx.AsyncHTTPTransport(proxy=proxy, limits=limits, trust_env=True)
            mounts[f"{scheme}://"] = _CheckedProxy(inner, policy)
    for host in (h.strip() for h in proxies.get("no", "").split(",")):
        if host == "*":
            return {}
        if host:
            mounts[_no_proxy_pattern(host)] = None
    return mounts if any(m is not None for m in mounts.values()) else {}


def _no_proxy_pattern(host: str) -> str:
    """The httpx mount pattern of one ``NO_PROXY`` entry (curl's rules, as httpx has them)."""
    if "://" in host:
        return host
    ip = parse_ip(host.split("/", 1)[0])
    if ip is not None:
        return f"all://[{host}]" if ip.version == 6 else f"all://{host}"
    return f"all://{host}" if host.lower() == "localhost" else f"all://*{host}"


def http_client(
    policy: AddressPolicy,
    *,
    timeout: httpx.Timeout,
    limits: httpx.Limits,
    headers: dict[str, str],
    on_response: ResponseHook,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every connection obeys ``policy``; redirects are
    not followed (the caller follows them: counted, loop- and scheme-checked)."""
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        headers=headers,
        transport=PinnedTransport(policy, limits),
        mounts=proxy_mounts(policy, limits),
        trust_env=True,  # netrc and the like, as before; proxies: proxy_mounts
        event_hooks={"response": [on_response]},
    )
