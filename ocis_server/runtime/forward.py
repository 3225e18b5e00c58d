"""Forwarding by the proxy to a service on another node (MICRO_REGISTRY=nats-js-kv).

An HTTP service that does not run in this process but is in the service table is routed here: the
proxy authenticates the request as for a local service (failed logins count against the real
client), then sends it to an address the registry lists for the service (`registry.lookup`,
round robin), which is that node's own proxy: it authenticates the same credentials again and
serves the request. Bodies stream both ways (nothing is held in memory); hop-by-hop headers
(RFC 9110 §7.6.1, and those the Connection header names) are not passed on; X-Forwarded-For,
-Proto and -Host say who asked. An address that refuses the connection (or does not accept it
within PROXY_FORWARD_CONNECT_TIMEOUT, 5 s) is dropped from the lookup at once and the next one
tried; once a request has been sent it is never sent again (it may have changed something): a
failure after that (or PROXY_FORWARD_READ_TIMEOUT, 300 s, of silence) is a 502, or a cut
connection if the answer had already begun. No instance at all: 503 with
Retry-After, in the service's own error body. A forwarded request is never forwarded again (the
header X-Ocis-Forwarded): two nodes whose registry views disagree cannot bounce it between them.

The node that serves it signs the user in again, and its login throttle must count the client,
not the forwarding node: the forwarding node sends the client's address as it determined it
(X-Ocis-Forwarded-Client, its own PROXY_TRUSTED_PROXIES applied) with an HMAC-SHA256 (key derived
from the machine secret, never the secret itself) over that address, its node name, the
X-Forwarded-* headers, method, target and a timestamp (X-Ocis-Forwarded-Signature `t=<unix>,
s=<hex>`). The serving node believes it only when the signature is right and at most
HOP_MAX_AGE seconds old (`vouch`); else it ignores both headers (the peer is the client).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ocis_server.auth.throttle import FORWARDED_CLIENT, client_address
from ocis_server.domain.errors import BadGateway, OcisError, ServiceUnavailable
from ocis_server.registry.lookup import Lookup

if TYPE_CHECKING:
    from .proxy import Route

log = logging.getLogger("ocis.proxy")

# Defaults of PROXY_FORWARD_CONNECT_TIMEOUT and PROXY_FORWARD_READ_TIMEOUT (config/schema.py)
CONNECT_TIMEOUT = 5.0       # seconds to open a connection to another node's proxy
READ_TIMEOUT = 300.0        # longest silence of the other node, before or within its answer
CHUNK = 64 * 1024
SAFE = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"})   # sent again on a dead link
FORWARDED = "X-Ocis-Forwarded"      # the node that forwarded it: not forwarded again
CLIENT = "X-Ocis-Forwarded-Client"  # the client's address, as the forwarding node saw it
SIGNATURE = "X-Ocis-Forwarded-Signature"    # t=<unix time>,s=<HMAC-SHA256 hex>
HOP_MAX_AGE = 60.0          # seconds a signature counts (clocks of the nodes may differ a bit)
_SIGNED = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
                        "expect"})    # (this proxy answered any 100-continue itself)
Render = Callable[["Route", web.Request, OcisError], web.Response]


def end_to_end(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """The headers without the hop-by-hop ones (also those the Connection header lists)."""
    source = headers
    named = {h.strip().lower() for v in source.getall("Connection", []) for h in v.split(",")}
    return CIMultiDict((k, v) for k, v in source.items()
                       if k.lower() not in HOP_BY_HOP and k.lower() not in named)


def _hop_key(secret: str) -> bytes:
    return hashlib.sha256(b"ocis forwarded request\0" + secret.encode()).digest()


def hop_mac(secret: str, stamp: str, method: str, target: str,
            headers: CIMultiDict[str] | CIMultiDictProxy[str]) -> str:
    parts = [stamp, method, target, headers.get(FORWARDED, ""), headers.get(CLIENT, ""),
             *(headers.get(h, "") for h in _SIGNED)]
    return hmac.new(_hop_key(secret), "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def vouch(request: web.Request, secret: str, now: float | None = None) -> None:
    """A request a node of this instance forwarded (signature right, recent): its client
    address counts as the caller's (throttle.client_address); anything else is ignored."""
    client, signature = request.headers.get(CLIENT), request.headers.get(SIGNATURE, "")
    if not client or not secret or FORWARDED not in request.headers:
        return
    fields = dict(p.partition("=")[::2] for p in signature.split(","))
    stamp, mac = fields.get("t", ""), fields.get("s", "")
    try:
        age = abs((time.time() if now is None else now) - float(stamp))
    except ValueError:
        return
    expected = hop_mac(secret, stamp, request.method, request.rel_url.raw_path_qs,
                       request.headers)
    if age <= HOP_MAX_AGE and hmac.compare_digest(mac, expected):
        request[FORWARDED_CLIENT] = client
    else:
        log.warning("a request claiming to be forwarded by %s has a wrong or stale signature: "
                    "its X-Forwarded-For is ignored", request.headers.get(FORWARDED, "?")[:64])


class Forwarder:
    def __init__(self, lookup: Lookup, node: str, render: Render, *, secret: str = "",
                 trusted_proxies: Sequence[str] = (), connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.lookup, self.node, self._render = lookup, node, render
        self._secret, self._trusted = secret, tuple(trusted_proxies)
        self._timeout = aiohttp.ClientTimeout(    # 0 or less: no limit
            total=None, connect=connect_timeout if connect_timeout > 0 else None,
            sock_read=read_timeout if read_timeout > 0 else None)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False))
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def handler(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def forward(request: web.Request) -> web.StreamResponse:
            return await self.forward(route, request)
        return forward

    async def forward(self, route: Route, request: web.Request) -> web.StreamResponse:
        name = route.spec.name
        if FORWARDED in request.headers:
            return self._render(route, request, BadGateway(
                f"the {name} service does not run on this node (request already forwarded)"))
        try:
            addresses = await self.lookup.addresses(name)
        except Exception as exc:                  # noqa: BLE001 - any registry failure: 503
            log.warning("registry lookup for %s failed: %s", name, exc)
            addresses = []
        safe = request.method in SAFE and not request.body_exists
        tries = [(a, True) for a in addresses]
        while tries:
            address, first = tries.pop(0)
            try:
                upstream = await self._send(address, request)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                log.warning("%s at %s does not take connections (%s): trying the next "
                            "instance", name, address, type(exc).__name__)
                self.lookup.dead(address)      # nothing was sent: the next one may have it
                continue
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if safe and first:             # a kept-alive connection it had closed, or the
                    tries.insert(0, (address, False))    # node died: once more, new connection
                    continue
                if safe:
                    self.lookup.dead(address)
                    continue
                log.warning("%s at %s failed: %s", name, address, exc)
                return self._render(route, request, BadGateway(
                    f"the {name} service on another node did not answer"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("%s at %s failed: %s", name, address, exc)
                return self._render(route, request, BadGateway(
                    f"the {name} service on another node did not answer"))
            async with upstream:
                return await self._relay(upstream, request, route, address)
        return self._render(route, request, ServiceUnavailable(
            f"no node runs the {name} service right now", retry_after=5.0))

    async def _send(self, address: str, request: web.Request) -> aiohttp.ClientResponse:
        headers = end_to_end(request.headers)
        headers.popall("Host", None)
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        headers.setdefault("X-Forwarded-Proto", request.scheme)
        headers.setdefault("X-Forwarded-Host", request.host)
        headers["Host"] = request.host
        headers[FORWARDED] = self.node
        headers.popall(CLIENT, None)
        headers.popall(SIGNATURE, None)
        if self._secret:
            headers[CLIENT] = client_address(request, self._trusted)
            stamp = str(int(time.time()))
            mac = hop_mac(self._secret, stamp, request.method, request.rel_url.raw_path_qs,
                          headers)
            headers[SIGNATURE] = f"t={stamp},s={mac}"
        body = request.content if request.body_exists else None
        return await self._client().request(
            request.method, address.rstrip("/") + request.rel_url.raw_path_qs, headers=headers,
            data=body, allow_redirects=False, compress=None,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))

    async def _relay(self, upstream: aiohttp.ClientResponse, request: web.Request, route: Route,
                     address: str) -> web.StreamResponse:
        name = route.spec.name
        headers = end_to_end(upstream.headers)
        size = upstream.content_length
        if (size is not None and size <= CHUNK and request.method != "HEAD"
                and upstream.status not in (204, 304)):     # small: one write, no stream
            try:
                body = await upstream.read()
            except (aiohttp.ClientError, TimeoutError) as exc:   # nothing sent yet: a 502
                log.warning("%s at %s broke off its answer: %s", name, address, exc)
                return self._render(route, request, BadGateway(
                    f"the {name} service on another node did not answer"))
            headers.popall("Content-Length", None)
            return web.Response(status=upstream.status, reason=upstream.reason, headers=headers,
                                body=body)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                      headers=headers)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # the answer began: its status cannot change; cut the connection so that the client
            # sees an incomplete answer rather than a complete-looking short one
            log.warning("%s at %s broke off its answer: %s", name, address, exc)
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("the other node broke off its answer") from None
        await response.write_eof()
        return response
