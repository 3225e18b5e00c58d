"""RemoteStorage: the `Storage` protocol over a provider's internal API (server.py), for a front
whose process does not run storage-users. One aiohttp session with a keep-alive pool; a provider
that cannot be reached (refused, reset, no connection within CONNECT_TIMEOUT) is a
ServiceUnavailable at once (503 with Retry-After), never a hanging request.

Every protocol method is a call by name (codec.METHODS); the few that are not plain calls are
written out here: uploads (the body is streamed through), blobs (streamed, with Range) and
`change_stamp`, which is fresh on every read: a front cannot see the provider's commits, so a
cached answer is never reused (correct before fast)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from ocis_server.domain.errors import NotFound, OcisError, ServiceUnavailable

from ..api import BlobBody, Node
from . import codec
from .server import ARGS_LENGTH, SECRET_HEADER

log = logging.getLogger("ocis.storage.remote")
CONNECT_TIMEOUT = 0.5     # seconds to reach the provider before the request answers 503
READ_TIMEOUT = 60.0       # seconds without a byte from the provider on an open call
RETRY_AFTER = 2.0         # what a 503 for an unreachable provider tells the client
POOL = 64                 # keep-alive connections to one provider


class RemoteStorage:
    """The storage provider `mount_id` at `base_url` (its STORAGE_USERS_HTTP_ADDR)."""

    def __init__(self, base_url: str, secret: str, storage_id: str, *,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.storage_id = storage_id
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout,
                                              sock_connect=connect_timeout,
                                              sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"RemoteStorage({self.storage_id!r} at {self.base_url})"

    @property
    def change_stamp(self) -> object:
        return object()           # never equal to an earlier one: nothing cached is reused

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL, keepalive_timeout=30.0),
                timeout=self._timeout, headers={SECRET_HEADER: self._secret},
                json_serialize=json.dumps)
        return self._session

    def _unreachable(self, exc: BaseException) -> ServiceUnavailable:
        log.warning("storage provider %s at %s: %s: %s", self.storage_id, self.base_url,
                    type(exc).__name__, exc)
        return ServiceUnavailable(f"the storage provider {self.storage_id} cannot be reached "
                                  f"({type(exc).__name__}); try again shortly",
                                  retry_after=RETRY_AFTER)

    async def _post(self, path: str, data: Any, headers: dict[str, str] | None = None, *,
                    again: bool = False) -> aiohttp.ClientResponse:
        """The provider's response to one call; `again`: an idempotent read, sent a second time
        when the keep-alive connection it went out on broke (the provider restarted)."""
        try:
            return await self._client().post(f"{self.base_url}{path}", data=data,
                                             headers=headers)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if again and broken_connection(exc):
                log.info("storage provider %s: connection broke (%s), reading again",
                         self.storage_id, type(exc).__name__)
                return await self._post(path, data, headers)
            raise self._unreachable(exc) from None

    async def _exchange(self, path: str, data: bytes, headers: dict[str, str], *,
                        again: bool) -> tuple[int, bytes]:
        """Status and body of one call, read whole; a read (`again`) is sent a second time when
        its connection broke before the whole answer came."""
        try:
            async with self._client().post(f"{self.base_url}{path}", data=data,
                                           headers=headers) as response:
                return response.status, await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if again and broken_connection(exc):
                log.info("storage provider %s: connection broke (%s), reading again",
                         self.storage_id, type(exc).__name__)
                return await self._exchange(path, data, headers, again=False)
            raise self._unreachable(exc) from None

    async def _result(self, response: aiohttp.ClientResponse) -> Any:
        try:
            async with response:
                raw = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._unreachable(exc) from None
        return _answer(response.status, raw)

    async def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        method = codec.METHODS[name]
        log.debug("rpc %s", name)
        payload = codec.dumps({"args": codec.encode_args(method, args, kwargs)})
        status, raw = await self._exchange(f"/rpc/{name}", payload, _JSON,
                                           again=name in codec.READS)
        return codec.decode(_answer(status, raw), method.result)

    async def _streamed(self, name: str, body: AsyncIterator[bytes], /, *args: Any,
                        **kwargs: Any) -> Any:
        method = codec.METHODS[name]
        log.debug("rpc %s (streamed)", name)
        head = codec.dumps(codec.encode_args(method, args, {**kwargs, "body": body}))

        async def framed() -> AsyncIterator[bytes]:
            yield head
            async for chunk in body:
                yield chunk

        response = await self._post(f"/stream/{name}", framed(),
                                    {ARGS_LENGTH: str(len(head)),
                                     "Content-Type": "application/octet-stream"})
        return codec.decode(await self._result(response), method.result)

    def __getattr__(self, name: str) -> Any:
        """Every other protocol method: a call by name (AttributeError for anything else)."""
        method = codec.METHODS.get(name)
        if method is None or method.streamed:
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.call(name, *args, **kwargs)

        call.__name__ = name
        return call

    # --- streamed uploads -------------------------------------------------------------------
    async def upload(self, space_id: str, path: Any, body: AsyncIterator[bytes],
                     **kwargs: Any) -> Any:
        return await self._streamed("upload", body, space_id, path, **kwargs)

    async def append_upload(self, upload_id: str, offset: int, body: AsyncIterator[bytes],
                            **kwargs: Any) -> Any:
        return await self._streamed("append_upload", body, upload_id, offset, **kwargs)

    async def put_upload_chunk(self, upload_id: str, name: str, body: AsyncIterator[bytes],
                               **kwargs: Any) -> Any:
        return await self._streamed("put_upload_chunk", body, upload_id, name, **kwargs)

    # --- blobs ------------------------------------------------------------------------------
    def blob(self, node: Node) -> RemoteBlobRef:
        if node.is_dir or node.blob_id is None:
            raise NotFound("not a file")
        return RemoteBlobRef(self, {"node": codec.encode(node)}, node.size)

    async def version_blob(self, node_id: str, key: str) -> RemoteBlobRef:
        versions = await self.call("list_versions", node_id)
        size = next((v.size for v in versions if v.key == key), None)
        if size is None:
            raise NotFound("no such version")
        return RemoteBlobRef(self, {"node_id": node_id, "key": key}, size)

    async def read_small(self, node: Node) -> bytes:
        body = await self.blob(node).read(None)
        try:
            return b"".join([chunk async for chunk in body.chunks])
        finally:
            body.release()

    async def open_blob(self, args: dict[str, Any], range_header: str | None) -> BlobBody:
        log.debug("rpc blob")
        headers = {"Content-Type": "application/json"}
        if range_header:
            headers["Range"] = range_header
        response = await self._post("/blob", codec.dumps(args), headers, again=True)
        if response.status not in (200, 206, 416):
            await self._result(response)       # raises the provider's error
            raise OcisError("the storage provider sent no blob")
        return BlobBody(response.status, response.content_length or 0,
                        response.headers.get("Content-Range"),
                        self._chunks(response), response.release)

    async def _chunks(self, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_chunked(256 * 1024):
                yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._unreachable(exc) from None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


_JSON = {"Content-Type": "application/json"}


def _answer(status: int, raw: bytes) -> Any:
    """The result in a provider's answer, or the domain error it carries, raised."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if status != 200 or not isinstance(body, dict) or "result" not in body:
        raise codec.decode_error(body)
    return body["result"]


def broken_connection(exc: BaseException) -> bool:
    """A connection that was open broke (closed or reset by the provider), as opposed to one
    that could not be made (refused: the provider is away) or an answer that did not come in
    time: only the first is worth one more try."""
    if isinstance(exc, (aiohttp.ClientConnectorError, TimeoutError)):
        return False
    return isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                            ConnectionResetError, BrokenPipeError))


@dataclass(frozen=True, slots=True)
class RemoteBlobRef:
    """storage.api.RemoteBlob of a RemoteStorage: read on demand, whole or a Range."""

    storage: RemoteStorage
    args: dict[str, Any]
    size: int

    async def read(self, range_header: str | None = None) -> BlobBody:
        return await self.storage.open_blob(self.args, range_header)


async def reachable(storage: RemoteStorage, timeout: float = CONNECT_TIMEOUT * 2) -> bool:
    """Whether the provider answers its health check now."""
    try:
        await asyncio.wait_for(storage.call("check"), timeout)
    except (OcisError, TimeoutError):
        return False
    return True
