"""The public HTTP listener: aiohttp's server behind a header-read deadline.

aiohttp has no header-read timeout (reference/security.md #49: slowloris connections stayed open),
so each connection is wrapped in a protocol that closes it when the first request's headers have
not fully arrived in time. Later requests on a kept-alive connection are bounded by aiohttp's
keep-alive timeout, which closes a connection whose next request is incomplete.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext

from .proxy import build_app
from .units import HttpUnit

log = logging.getLogger("ocis.proxy")

_END_OF_HEADERS = b"\r\n\r\n"


class HeaderDeadline(asyncio.Protocol):
    """Delegates everything to aiohttp's request handler; closes the transport if the request
    headers are not complete `timeout` seconds after the connection opened."""

    def __init__(self, inner: Any, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._timeout > 0:
            self._timer = asyncio.get_running_loop().call_later(self._timeout, self._expire)
        self._inner.connection_made(transport)

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            # Keep only the last 3 bytes to find CRLFCRLF split across reads.
            window = self._tail + data
            if _END_OF_HEADERS in window:
                self._timer.cancel()
                self._timer = None
                self._tail = b""
            else:
                self._tail = window[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def guarded_factory(factory: Callable[[], Any], header_timeout: float) -> Callable[[], HeaderDeadline]:
    return lambda: HeaderDeadline(factory(), header_timeout)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; OSError (address in use) propagates for a clear start-up error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=512, reuse_port=False)
    sock.setblocking(False)
    return sock


class ProxyUnit:
    """proxy: builds the root app from the HTTP services and serves it on PROXY_HTTP_ADDR.

    The socket is bound before any service starts (a busy port fails fast and the public URL is
    known); a restart binds the same address again."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext, http_units: Sequence[HttpUnit],
                 sock: socket.socket) -> None:
        self.spec, self.ctx = spec, ctx
        self._http_units = http_units
        self._sock: socket.socket | None = sock
        self.address: tuple[str, int] = sock.getsockname()[:2]
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        config = self.ctx.config
        mounted = [(unit.spec, mount, app) for unit in self._http_units for mount, app in unit.apps()]
        runner = web.AppRunner(build_app(self.ctx, mounted), handle_signals=False,
                               keepalive_timeout=config.proxy_idle_timeout,
                               shutdown_timeout=config.proxy_shutdown_timeout,
                               max_line_size=config.proxy_max_header_size,
                               max_field_size=config.proxy_max_header_size)
        await runner.setup()
        sock, self._sock = self._sock or bind(*self.address), None
        assert runner.server is not None
        try:
            self._server = await asyncio.get_running_loop().create_server(
                guarded_factory(runner.server, config.proxy_header_read_timeout), sock=sock)
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        for unit in self._http_units:
            unit.mounted = True
        log.info("proxy listening on http://%s:%d", *self.address)

    async def run(self) -> None:
        while self._server is not None and self._server.is_serving():
            await asyncio.sleep(1.0)
        raise RuntimeError("the proxy listener closed")

    async def check(self) -> None:
        if self._server is None or not self._server.is_serving():
            raise RuntimeError("not listening")

    async def stop(self) -> None:
        """Stop accepting, then let in-flight requests finish (up to the shutdown timeout)."""
        server, self._server = self._server, None
        runner, self._runner = self._runner, None
        for unit in self._http_units:
            unit.mounted = False
        if server is not None:
            server.close()
        if runner is not None:
            await runner.cleanup()
        if server is not None:
            await server.wait_closed()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
