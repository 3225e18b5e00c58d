"""The public HTTP listener: aiohttp's server with read deadlines and input-free error bodies.

aiohttp has no header-read or body-read timeout (security-notes.md §6: slowloris connections
stayed open), so each connection's request handler closes it when a request's headers have not
fully arrived `header_timeout` seconds after its first byte (after connect for the first request),
or when a request body stalls for `body_timeout` seconds between chunks or trickles in slower
than `body_min_bytes` per `body_rate_window` seconds (neither while the server itself has paused
reading). Parser errors (e.g. a header over the size limit) answer a generic body: aiohttp's
default one quotes the start of the offending line, which may be credentials. Connections are
counted and capped by `connections.ConnectionGate`; an idle one may be closed to make room.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext

from .forward import Forwarder
from .freshness import Freshness
from .connections import Acceptor, Caps, ConnectionGate, descriptor_limit, networks
from .proxy import build_app
from .replay import Framer, Key, Memo, client_key, matches
from .units import HttpUnit

log = logging.getLogger("ocis.proxy")
CLIENT_CLOSED_REQUEST = 499


def _loggable_path(path: str) -> str:
    """The path without a transfer token (`/data/<token>` is a credential for its upload)."""
    return "/data/…" if path.startswith("/data/") else path


@dataclass(frozen=True, slots=True)
class ReadLimits:
    header_timeout: float       # PROXY_HEADER_READ_TIMEOUT
    body_timeout: float         # PROXY_IDLE_TIMEOUT: longest pause inside a body
    body_min_bytes: int         # PROXY_BODY_MIN_BYTES per ...
    body_rate_window: float     # ... PROXY_BODY_RATE_WINDOW seconds


class GuardedRequestHandler(RequestHandler):
    """aiohttp's per-connection handler plus the header/body read deadlines, a minimum body
    rate, a place in the connection gate and a generic body for protocol errors. Reads three
    aiohttp internals: `_request_count` (requests parsed so far), `_messages` (parsed requests
    with their body streams, not yet handled) and `_request_in_progress`.
    Attribute names must not collide with aiohttp's own slots: `_paused` there is the write
    flow-control flag, and shadowing it once made every early error response hang in drain."""

    __slots__ = (
        "_address",
        "_app_paused",
        "_body",
        "_deadline",
        "_due",
        "_framer",
        "_gate",
        "_gate_key",
        "_keys",
        "_lane",
        "_last_seen",
        "_limits",
        "_partial",
        "_rate_bytes",
        "_rate_timer",
        "_reusable",
        "_what",
    )

    def __init__(self, manager: Any, *, limits: ReadLimits, gate: ConnectionGate | None = None,
                 gate_key: str = "", lane: Memo | None = None, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        # The replay lane (replay.py); not while aiohttp logs every request (it would miss them).
        self._lane = lane if not self._logging_enabled else None
        self._framer = Framer(self._lane.known) if self._lane is not None else None
        self._keys: deque[Key | None] = deque()   # keys of the requests handed to aiohttp
        self._address = ""
        self._reusable = False    # the last answer is finished and keeps the connection
        self._limits = limits
        self._gate, self._gate_key = gate, gate_key
        self._deadline: asyncio.TimerHandle | None = None
        self._due = 0.0                 # loop time the current deadline is due
        self._what = ""                 # what the current deadline waits for (for the log)
        self._body: Any = None          # the body stream of the last request, until complete
        self._app_paused = False        # reading paused by the server (backpressure)
        self._partial = False           # bytes of a request whose headers are not complete
        self._last_seen = 0.0           # loop time of the last bytes from the client
        self._rate_timer: asyncio.TimerHandle | None = None
        self._rate_bytes = 0            # body bytes in the current rate window

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._last_seen = self._loop.time()
        if self._gate is not None:
            self._gate.attach(self._gate_key, self)
        self._arm(self._limits.header_timeout, "request headers")

    # The loop is aiohttp's `self._loop` (the running one, given at construction): Python 3.11's
    # asyncio.get_running_loop() makes a getpid() system call, on every read otherwise.
    def data_received(self, data: bytes) -> None:
        framer = self._framer
        if framer is not None and data:
            idle = framer.at_boundary and self._idle()
            found = framer.feed(data)
            if idle and found:
                data, found = self._replay(data, found)
                if not data:
                    return
            self._keys.extend(key for _, key in found)
        parsed = self._request_count
        super().data_received(data)
        if self._request_count > parsed:
            self._reusable = False
        self._last_seen = self._loop.time()
        new = self._request_count > parsed and bool(self._messages)
        if new:
            self._body = self._messages[-1][1]         # headers complete: a new request
            self._partial = False
            self._cancel()
            self._start_rate_window()
        elif self._body is not None:
            self._rate_bytes += len(data)
        if self._body is not None and not self._body.is_eof():
            if not self._app_paused:                   # a body chunk: the stall clock restarts
                self._arm(self._limits.body_timeout, "request body", restart=True)
        elif new or self._body is not None:            # this data completed a request
            self._body = None
            self._cancel()
            self._stop_rate_window()
        elif data:                                     # first bytes of the next request
            self._partial = True
            self._arm(self._limits.header_timeout, "request headers")

    # --- the replay lane (replay.py) ------------------------------------------------------------
    def _idle(self) -> bool:
        """aiohttp waits for the next request on this connection and can write at once."""
        # start() awaits the next request, has not run yet, or has not resumed yet after a
        # keep-alive answer was finished (and no request was queued since).
        waiter = self._waiter
        waiting = (not waiter.done()) if waiter is not None \
            else self._request_count == 0 or self._reusable
        return (waiting and not self._messages
                and not self._request_in_progress and self._payload_parser is None
                and not self._upgraded and not self._close and not self._force_close
                and not self._paused and not self._buffer_paused and not self._reading_paused
                and not self._message_tail and not self._keys and self._body is None
                and self.transport is not None)

    def _replay(self, data: bytes, found: list[tuple[int, Key | None]]
                ) -> tuple[bytes, list[tuple[int, Key | None]]]:
        """Answer the leading requests of `data` the memo holds; the rest (from the first one
        it does not) and their keys go to aiohttp."""
        lane, loop = self._lane, self._loop
        assert lane is not None and self.transport is not None
        if not self._address:
            self._address = client_key(self.peername)
        now = loop.time()
        done = start = 0
        for end, key in found:
            if self._paused:                  # the client does not read: aiohttp waits for it
                break
            answer = lane.answer(key, self._address, now) if key is not None else None
            if answer is None:
                break
            self.transport.write(answer)
            done, start = done + 1, end
        if not done:
            return data, found
        # What aiohttp's start() and our data_received do after a request, and a
        # complete request cancels the header deadline armed at connect.
        self._last_seen = now
        self._next_keepalive_close_time = now + self._keepalive_timeout
        if self._keepalive_handle is None:
            self._keepalive_handle = loop.call_at(self._next_keepalive_close_time,
                                                  self._process_keepalive)
        if self._manager is not None:
            self._manager.requests_count += done
        self._partial = False
        self._cancel()
        return data[start:], found[done:]

    async def finish_response(self, request: BaseRequest, resp: web.StreamResponse,
                              start_time: float | None) -> tuple[web.StreamResponse, bool]:
        done = await super().finish_response(request, resp, start_time)
        self._reusable = bool(done[0].keep_alive) and not done[1]
        return done

    def replay_key(self, request: BaseRequest) -> Key | None:
        """The key of `request` (the next one aiohttp handles on this connection), None when
        it is not eligible. A request that does not match stops the lane on this connection."""
        if not self._keys:
            return None
        key = self._keys.popleft()
        if key is not None and not matches(key, request):
            log.warning("replay lane: request order lost on a connection; lane off for it")
            self._keys.clear()
            if self._framer is not None:
                self._framer.lost = True
            return None
        return key

    def pause_reading(self) -> None:
        """The app is not consuming the body yet: the client is not the one stalling."""
        self._app_paused = True
        self._cancel()
        self._stop_rate_window()
        super().pause_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        was_paused, self._app_paused = self._app_paused, False
        super().resume_reading(resume_parser)
        if self._body is not None and not self._body.is_eof() and not self._app_paused:
            self._arm(self._limits.body_timeout, "request body", restart=True)
            if was_paused:          # aiohttp also calls this when it was not paused at all
                self._start_rate_window()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel()
        self._stop_rate_window()
        self._body = None
        if self._gate is not None:
            self._gate.release(self._gate_key, self)
        super().connection_lost(exc)

    # --- the connection gate ------------------------------------------------------------------
    def idle_since(self) -> float | None:
        """Since when this connection waits for a request, or None while one is under way."""
        if (self.transport is None or self._partial or self._messages
                or self._request_in_progress):
            return None
        return self._last_seen

    def evict(self) -> None:
        """Closed to make room for a new connection (it was idle the longest)."""
        if self._gate is not None:
            self._gate.release(self._gate_key, self)
        log.debug("closing an idle connection from %s to make room", self._gate_key)
        self.force_close()

    # --- minimum body rate ----------------------------------------------------------------------
    def _start_rate_window(self) -> None:
        self._stop_rate_window()
        limits = self._limits
        if limits.body_min_bytes <= 0 or limits.body_rate_window <= 0:
            return
        if self._body is None or self._body.is_eof() or self._app_paused:
            return
        self._rate_bytes = 0
        self._rate_timer = self._loop.call_later(limits.body_rate_window, self._rate_check)

    def _stop_rate_window(self) -> None:
        if self._rate_timer is not None:
            self._rate_timer.cancel()
            self._rate_timer = None

    def _rate_check(self) -> None:
        self._rate_timer = None
        if self._body is None or self._body.is_eof() or self._app_paused:
            return
        if self._rate_bytes < self._limits.body_min_bytes:
            log.info("closing a connection from %s: its request body trickles (%d bytes in "
                     "%.0f s, less than %d)", self._gate_key or "a client", self._rate_bytes,
                     self._limits.body_rate_window, self._limits.body_min_bytes)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.abort()
            return
        self._start_rate_window()

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, ConnectionError) and self.transport is None:
            # The client went away (or a read deadline closed the connection) mid-request: not a
            # server error. Logged as an aborted request and recorded as 499 (nginx's "client
            # closed request"), so that monitoring counting 5xx sees no false alarm.
            log.info("request aborted by the client: %s %s (connection closed mid-request)",
                     request.method, _loggable_path(request.path))
            response = web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")
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
        loop = self._loop
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
        loop = self._loop
        if loop.time() < self._due:                    # pushed back by a later read
            self._deadline = loop.call_at(self._due, self._expire)
            return
        self._deadline = None
        if self.transport is not None and not self.transport.is_closing():
            log.info("closing a connection: %s not received in time", self._what)
            self.transport.abort()


def guarded_factory(server: Any, handler_args: dict[str, Any], limits: ReadLimits,
                    gate: ConnectionGate, lane: Memo | None = None
                    ) -> Callable[[socket.socket, str], None]:
    """What the acceptor calls for each accepted socket: one GuardedRequestHandler per connection
    of the aiohttp `server` (the runner's), with the same arguments the runner was given."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Any]] = set()

    async def connect(conn: socket.socket, key: str) -> None:
        made: list[GuardedRequestHandler] = []

        def protocol() -> GuardedRequestHandler:
            made.append(GuardedRequestHandler(server, loop=loop, limits=limits, gate=gate,
                                              gate_key=key, lane=lane, **handler_args))
            return made[0]

        try:
            await loop.connect_accepted_socket(protocol, conn)
        except (OSError, RuntimeError) as exc:
            log.info("a connection from %s failed at once: %s", key, exc)
            if not (made and gate.release(key, made[0])):   # attached: released; else pending
                gate.abandon(key)
            conn.close()

    def start(conn: socket.socket, key: str) -> None:
        task = loop.create_task(connect(conn, key))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return start


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket; OSError (address in use) propagates for a clear start-up error.
    `reuse_port`: one of several workers on the port (SO_REUSEPORT: the kernel spreads the
    connections over them, runtime/workers.py)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=512, reuse_port=reuse_port)
    sock.setblocking(False)
    return sock


class ProxyUnit:
    """proxy: builds the root app from the HTTP services and serves it on PROXY_HTTP_ADDR.

    The socket is bound before any service starts (a busy port fails fast and the public URL is
    known); a restart binds the same address again. `reserved` descriptors (uploads, SQLite, the
    LDAP client, the idm listener's connections) are never given to client connections."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext, http_units: Sequence[HttpUnit],
                 sock: socket.socket, *, reserved: int = 0,
                 remote: Sequence[ServiceSpec] = (), forwarder: Forwarder | None = None,
                 freshness: Freshness | None = None, header: tuple[str, str] | None = None) -> None:
        self.spec, self.ctx = spec, ctx
        self._freshness, self._header = freshness, header       # a worker's (workerstate.py)
        self._remote, self._forwarder = remote, forwarder     # services of other nodes
        self._http_units = http_units
        self._sock: socket.socket | None = sock
        self._reuse_port = sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) != 0
        self.address: tuple[str, int] = sock.getsockname()[:2]
        self._runner: web.AppRunner | None = None
        self._acceptor: Acceptor | None = None
        self._reserved = reserved
        self.gate: ConnectionGate | None = None
        self.replay: Memo | None = None          # the replay lane's answers (replay.py)

    def _caps(self) -> Caps:
        config = self.ctx.config
        limit = descriptor_limit()
        caps = Caps.for_limit(config.proxy_max_connections, config.proxy_max_connections_per_address,
                              self._reserved, limit)
        lowered = caps.total < config.proxy_max_connections
        log.log(logging.WARNING if lowered else logging.INFO,
                "proxy: at most %d client connections, %s per address (PROXY_MAX_CONNECTIONS %d%s; "
                "descriptor limit %d, %d kept for files, databases and LDAP)", caps.total,
                caps.per_address or "no cap", config.proxy_max_connections,
                ", lowered to fit the descriptor limit" if lowered else "", limit, self._reserved)
        return caps

    async def start(self) -> None:
        config = self.ctx.config
        mounted = [(unit.spec, mount, app) for unit in self._http_units for mount, app in unit.apps()]
        handler_args: dict[str, Any] = {"keepalive_timeout": config.proxy_idle_timeout,
                                        "max_line_size": config.proxy_max_header_size,
                                        "max_field_size": config.proxy_max_header_size}
        remote = [(spec, mount) for spec in self._remote for mount in spec.mounts]
        fresh = self._freshness.check if self._freshness is not None else None
        self.replay = memo = Memo(self.ctx, fresh)
        runner = web.AppRunner(self._worker_app(build_app(self.ctx, mounted, remote,
                                                          self._forwarder, memo)),
                               handle_signals=False,
                               shutdown_timeout=config.proxy_shutdown_timeout, **handler_args)
        await runner.setup()
        sock, self._sock = self._sock or bind(*self.address, reuse_port=self._reuse_port), None
        assert runner.server is not None
        limits = ReadLimits(config.proxy_header_read_timeout, config.proxy_idle_timeout,
                            config.proxy_body_min_bytes, config.proxy_body_rate_window)
        try:
            gate = ConnectionGate(self._caps(), networks(config.trusted_proxies))
            acceptor = Acceptor(sock, gate, guarded_factory(runner.server, handler_args, limits,
                                                            gate, memo))
            acceptor.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner, self._acceptor, self.gate = runner, acceptor, gate
        for unit in self._http_units:
            unit.mounted = True
        log.debug("proxy listening on http://%s:%d", *self.address)

    def _worker_app(self, app: web.Application) -> web.Application:
        """In a worker: the cache check before every request, and the worker's name in every
        answer when OCIS_WORKERS_DEBUG asks for it."""
        if self._freshness is not None:
            app.middlewares.insert(0, self._freshness.middleware())
        if self._header is not None:
            name, value = self._header

            async def name_worker(_request: web.Request, response: web.StreamResponse) -> None:
                response.headers[name] = value

            app.on_response_prepare.append(name_worker)
        return app

    async def run(self) -> None:
        while self._acceptor is not None and self._acceptor.serving:
            await asyncio.sleep(1.0)
        raise RuntimeError("the proxy listener closed")

    async def check(self) -> None:
        if self._acceptor is None or not self._acceptor.serving:
            raise RuntimeError("not listening")

    async def stop(self) -> None:
        """Stop accepting, then let in-flight requests finish (up to the shutdown timeout)."""
        acceptor, self._acceptor = self._acceptor, None
        runner, self._runner = self._runner, None
        for unit in self._http_units:
            unit.mounted = False
        if acceptor is not None:
            acceptor.close()
        if runner is not None:
            await runner.cleanup()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._forwarder is not None:
            await self._forwarder.close()
