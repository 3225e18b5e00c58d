"""The public HTTP listener: aiohttp's server with read deadlines and input-free error bodies.

aiohttp has no header-read or body-read timeout (security-notes.md §6: slowloris connections
stayed open), so each connection's request handler closes it when a request's headers have not
fully arrived `header_timeout` seconds after its first byte (after connect for the first request),
or when a request body stalls for `body_timeout` seconds between chunks (not while the server
itself has paused reading). Parser errors (e.g. a header over the size limit) answer a generic
body: aiohttp's default one quotes the start of the offending line, which may be credentials.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext

from .proxy import build_app
from .units import HttpUnit

log = logging.getLogger("ocis.proxy")


class GuardedRequestHandler(RequestHandler):
    """aiohttp's per-connection handler plus the header/body read deadlines and a generic
    body for protocol errors. Reads two aiohttp internals: `_request_count` (requests parsed
    so far) and `_messages` (parsed requests with their body streams, not yet handled).
    Attribute names must not collide with aiohttp's own slots: `_paused` there is the write
    flow-control flag, and shadowing it once made every early error response hang in drain."""

    __slots__ = (
        "_app_paused",
        "_body",
        "_body_timeout",
        "_deadline",
        "_due",
        "_header_timeout",
        "_what",
    )

    def __init__(self, manager: Any, *, header_timeout: float, body_timeout: float,
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._due = 0.0                 # loop time the current deadline is due
        self._what = ""                 # what the current deadline waits for (for the log)
        self._body: Any = None          # the body stream of the last request, until complete
        self._app_paused = False        # reading paused by the server (backpressure)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm(self._header_timeout, "request headers")

    def data_received(self, data: bytes) -> None:
        parsed = self._request_count
        super().data_received(data)
        new = self._request_count > parsed and bool(self._messages)
        if new:
            self._body = self._messages[-1][1]         # headers complete: a new request
            self._cancel()
        if self._body is not None and not self._body.is_eof():
            if not self._app_paused:                   # a body chunk: the stall clock restarts
                self._arm(self._body_timeout, "request body", restart=True)
        elif new or self._body is not None:            # this data completed a request
            self._body = None
            self._cancel()
        elif data:                                     # first bytes of the next request
            self._arm(self._header_timeout, "request headers")

    def pause_reading(self) -> None:
        """The app is not consuming the body yet: the client is not the one stalling."""
        self._app_paused = True
        self._cancel()
        super().pause_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        self._app_paused = False
        super().resume_reading(resume_parser)
        if self._body is not None and not self._body.is_eof() and not self._app_paused:
            self._arm(self._body_timeout, "request body", restart=True)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel()
        self._body = None
        super().connection_lost(exc)

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, ConnectionError) and self.transport is None:
            # The client went away (or a read deadline closed the connection) mid-request.
            log.debug("connection lost during %s %s", request.method, request.path)
            response = web.Response(status=status)
            response.force_close()
            return response
        if status >= 500:
            return super().handle_error(request, status, exc, message)   # generic, no traceback
        # The parser's message quotes the rejected input (a header may hold credentials).
        log.info("HTTP %d for a malformed request from %s: %s", status, request.remote,
                 type(exc).__name__ if exc is not None else "protocol error")
        if request.writer.output_size > 0:
            raise ConnectionError("response already started, cannot send the error")
        try:
            text = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            text = str(status)
        response = web.Response(status=status, text=text + "\n")
        response.force_close()
        return response

    def _arm(self, timeout: float, what: str, *, restart: bool = False) -> None:
        """Start a deadline; `restart` pushes a running one back (cheap: no new timer per read,
        the timer re-checks `_due` when it fires)."""
        if timeout <= 0 or (self._deadline is not None and not restart):
            return
        loop = asyncio.get_running_loop()
        self._due, self._what = loop.time() + timeout, what
        if self._deadline is not None and self._deadline.when() > self._due:
            self._cancel()                             # a shorter deadline than the running one
        if self._deadline is None:
            self._deadline = loop.call_at(self._due, self._expire)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._due:                    # pushed back by a later read
            self._deadline = loop.call_at(self._due, self._expire)
            return
        self._deadline = None
        if self.transport is not None and not self.transport.is_closing():
            log.info("closing a connection: %s not received in time", self._what)
            self.transport.abort()


def guarded_factory(server: Any, handler_args: dict[str, Any], header_timeout: float,
                    body_timeout: float) -> Callable[[], GuardedRequestHandler]:
    """The protocol factory for `loop.create_server`: one GuardedRequestHandler per connection
    of the aiohttp `server` (the runner's), with the same arguments the runner was given."""
    loop = asyncio.get_running_loop()
    return lambda: GuardedRequestHandler(server, loop=loop, header_timeout=header_timeout,
                                         body_timeout=body_timeout, **handler_args)


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
        handler_args: dict[str, Any] = {"keepalive_timeout": config.proxy_idle_timeout,
                                        "max_line_size": config.proxy_max_header_size,
                                        "max_field_size": config.proxy_max_header_size}
        runner = web.AppRunner(build_app(self.ctx, mounted), handle_signals=False,
                               shutdown_timeout=config.proxy_shutdown_timeout, **handler_args)
        await runner.setup()
        sock, self._sock = self._sock or bind(*self.address), None
        assert runner.server is not None
        try:
            self._server = await asyncio.get_running_loop().create_server(
                guarded_factory(runner.server, handler_args, config.proxy_header_read_timeout,
                                config.proxy_idle_timeout), sock=sock)
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
