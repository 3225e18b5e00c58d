"""The internal API of a storage provider (`ocis storage-users server`), on its own listener
STORAGE_USERS_HTTP_ADDR, never the public one. Every request carries the machine secret from
`ocis init` (OCIS_MACHINE_AUTH_API_KEY, compared in constant time); anything else is a 401.

    POST /rpc/<method>       JSON {"args": {...}} -> {"result": ...}     (every Storage method)
    POST /stream/<method>    `X-Ocis-Args-Length: n`, n bytes of JSON args, then the upload body
                             (upload, append_upload, put_upload_chunk: never buffered)
    POST /blob               JSON {"node": ...} or {"node_id", "key"} (a version); Range honoured;
                             the bytes of the blob (sendfile), never its path

A call (/rpc) that takes longer than CALL_TIMEOUT answers 503 with Retry-After: a read is
abandoned, a write goes on to its end here (never cut off half-way) though the front was told 503.

Errors: the domain error's class name, message (and retry_after) as JSON with its HTTP status;
an unexpected failure is a 500 with no detail (logged here). No answer names a host path."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import (
    BadRequest,
    NotFound,
    OcisError,
    ServiceUnavailable,
    Unauthenticated,
    disk_full_error,
    unavailable_cause,
)

from ..api import Node, Storage
from . import codec

log = logging.getLogger("ocis.storage.remote")
SECRET_HEADER = "X-Machine-Auth-Api-Key"
ARGS_LENGTH = "X-Ocis-Args-Length"
CHUNK = 256 * 1024
BODY_TIMEOUT = 30.0      # seconds the JSON part of a request may take to arrive
CALL_TIMEOUT = 30.0      # seconds a storage call may take before the front gets a 503
RETRY_AFTER = 5.0        # what that 503 tells the client
_BLOB_ID = re.compile(r"^[0-9a-fA-F-]{8,64}$")
StorageGetter = Callable[[], Storage]


def _answer(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=codec.dumps(body), content_type="application/json")


def _error(exc: BaseException) -> web.Response:
    if not isinstance(exc, OcisError):
        known = disk_full_error(exc) or unavailable_cause(exc)
        if known is None:
            log.error("internal storage API: unexpected failure", exc_info=exc)
            return _answer(500, {"error": "OcisError",
                                 "message": "the storage provider failed (see its log)"})
        exc = known
    return _answer(exc.status, codec.encode_error(exc))


@web.middleware
async def _guard(request: web.Request,
                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                 ) -> web.StreamResponse:
    secret: str = request.app[SECRET_KEY]
    given = request.headers.get(SECRET_HEADER, "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return _error(Unauthenticated("internal API: wrong or missing machine secret"))
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 413:
            return _error(BadRequest("internal API: the JSON part is too large"))
        raise
    except Exception as exc:        # noqa: BLE001 - every failure becomes an answer
        return _error(exc)


SECRET_KEY = web.AppKey("secret", str)
STORAGE_KEY: web.AppKey[StorageGetter] = web.AppKey("storage")
CALL_TIMEOUT_KEY = web.AppKey("call_timeout", float)


async def _json(read: Awaitable[bytes]) -> Any:
    """The JSON part of a request, parsed; a client that sends it too slowly gets a 400."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            raw = await read
    except TimeoutError:
        raise BadRequest("internal API: the request came too slowly") from None
    except asyncio.IncompleteReadError:
        raise BadRequest("internal API: the request ended early") from None
    return codec.loads(raw)


def _method(request: web.Request, streamed: bool) -> codec.Method:
    method = codec.METHODS.get(request.match_info["method"])
    if method is None or method.streamed != streamed:
        raise NotFound("internal API: no such method")
    return method


async def _call(request: web.Request) -> web.Response:
    method = _method(request, streamed=False)
    raw = await _json(request.read())
    args = codec.decode_args(method, raw.get("args", {}) if isinstance(raw, dict) else None)
    result = await _timed(request.app[CALL_TIMEOUT_KEY], method.name,
                          getattr(request.app[STORAGE_KEY](), method.name)(**args))
    return _answer(200, {"result": codec.encode(result)})


_RUNNING: set[asyncio.Task[Any]] = set()      # writes that outlived their time-out


async def _timed(seconds: float, name: str, call: Coroutine[Any, Any, Any]) -> Any:
    """The result of a storage call, or a ServiceUnavailable after `seconds`."""
    task = asyncio.ensure_future(call)
    try:
        async with asyncio.timeout(seconds):
            return await asyncio.shield(task)
    except TimeoutError:
        _let_finish(name, task)
        log.warning("internal storage API: %s took longer than %.1f s", name, seconds)
        raise ServiceUnavailable(f"the storage call {name} took too long; try again shortly",
                                 retry_after=RETRY_AFTER) from None
    except asyncio.CancelledError:       # the front went away: the same as a time-out
        _let_finish(name, task)
        raise


def _let_finish(name: str, task: asyncio.Task[Any]) -> None:
    """A read nobody waits for is abandoned; a write runs to its end (kept referenced)."""
    if name in codec.READS:
        task.cancel()
    elif not task.done():
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)


async def _stream(request: web.Request) -> web.Response:
    method = _method(request, streamed=True)
    try:
        length = int(request.headers.get(ARGS_LENGTH, ""))
    except ValueError:
        raise BadRequest(f"internal API: {ARGS_LENGTH} missing") from None
    if not 0 <= length <= codec.MAX_JSON:
        raise BadRequest("internal API: the JSON part is too large")
    raw = await _json(request.content.readexactly(length))
    args = codec.decode_args(method, raw)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_chunked(CHUNK):
            yield chunk

    result = await getattr(request.app[STORAGE_KEY](), method.name)(body=body(), **args)
    return _answer(200, {"result": codec.encode(result)})


async def _blob(request: web.Request) -> web.StreamResponse:
    raw = await _json(request.read())
    storage = request.app[STORAGE_KEY]()
    if not isinstance(raw, dict):
        raise BadRequest("internal API: the arguments are not an object")
    if "node" in raw:
        node = codec.decode(raw["node"], Node)
        if node.blob_id is None or not _BLOB_ID.match(node.blob_id):
            raise NotFound("not a file")
        path = storage.blob(node)
    else:
        path = await storage.version_blob(codec.decode(raw.get("node_id"), str),
                                          codec.decode(raw.get("key"), str))
    if not isinstance(path, Path):
        raise NotFound("the blob is not on this provider")
    exists = await asyncio.get_running_loop().run_in_executor(None, path.is_file)
    if not exists:
        raise NotFound("resource not found")
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})


def internal_app(storage: StorageGetter, secret: str, *,
                 call_timeout: float = CALL_TIMEOUT) -> web.Application:
    """The internal API over whichever storage `storage()` gives now (it may be replaced)."""
    app = web.Application(middlewares=[_guard], client_max_size=codec.MAX_JSON)
    app[SECRET_KEY] = secret
    app[STORAGE_KEY] = storage
    app[CALL_TIMEOUT_KEY] = call_timeout
    app.router.add_post("/rpc/{method}", _call)
    app.router.add_post("/stream/{method}", _stream)
    app.router.add_post("/blob", _blob)
    return app
