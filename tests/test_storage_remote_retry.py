"""The internal storage API when things go wrong on the way (issue 16): a read whose keep-alive
connection breaks (the provider restarted) is sent once more and answers; a write or an upload
never is (503 instead, done at most once); a storage call that hangs on the provider answers 503
with Retry-After after the provider's time-out, a write still finishing there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ocis_server.domain import errors
from ocis_server.storage import api
from ocis_server.storage.remote import codec
from ocis_server.storage.remote.client import RemoteStorage
from ocis_server.storage.remote.server import SECRET_HEADER, internal_app
from ocis_server.storage.sqlite import SqliteStorage

pytestmark = pytest.mark.scaleout
STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
USER = "4c510ada-c86b-4815-8820-42cdf82c3d51"
SECRET = "machine-secret-for-the-test"


class Breaker:
    """Drops the connection of the next request to a given endpoint before it is handled,
    as a provider that goes away under a keep-alive connection does; counts what arrives."""

    def __init__(self) -> None:
        self.drop: dict[str, int] = {}
        self.seen: list[str] = []

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        name = request.path.rsplit("/", 1)[-1]
        self.seen.append(name)
        if self.drop.get(name, 0) > 0:
            self.drop[name] -= 1
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.2)
            raise asyncio.CancelledError
        return await handler(request)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    storage = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    await storage.create_space(space_type="personal", name="Al", owner_id=USER,
                               alias="personal/al", space_id=USER)
    try:
        yield storage
    finally:
        await storage.close()


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_read_is_sent_again_when_its_connection_broke_a_write_never(
        local: SqliteStorage) -> None:
    breaker = Breaker()
    app = internal_app(lambda: local, SECRET)
    app.middlewares.append(breaker.middleware)
    runner, url = await serve(app)
    remote = RemoteStorage(url, SECRET, STORAGE_ID)
    try:
        breaker.drop["get_space"] = 1
        assert (await remote.get_space(USER)).id == USER          # answered, after one retry
        assert breaker.seen.count("get_space") == 2
        breaker.drop["get_space"] = 2                             # broken twice: only one retry
        with pytest.raises(errors.ServiceUnavailable):
            await remote.get_space(USER)
        breaker.drop["mkdir"] = 1                                 # a write: never sent again
        with pytest.raises(errors.ServiceUnavailable) as caught:
            await remote.mkdir(USER, ("made",))
        assert caught.value.retry_after >= 1 and breaker.seen.count("mkdir") == 1
        with pytest.raises(errors.NotFound):
            await local.lookup(USER, ("made",))
        breaker.drop["upload"] = 1                                # an upload neither
        with pytest.raises(errors.ServiceUnavailable):
            await remote.upload(USER, ("a.txt",), chunks(b"abc"))
        assert breaker.seen.count("upload") == 1
        result = await remote.upload(USER, ("a.txt",), chunks(b"abc"))
        breaker.drop["blob"] = 1                                  # reading a blob is a read
        assert await remote.read_small(result.node) == b"abc"
        assert breaker.seen.count("blob") == 2
        assert sorted(set(codec.READS) - set(codec.METHODS)) == []
        assert not any(codec.METHODS[name].streamed for name in codec.READS)
    finally:
        await remote.close()
        await runner.cleanup()


class Slow:
    """The provider's storage with a read that hangs and a write that takes a while."""

    def __init__(self, storage: SqliteStorage, delay: float) -> None:
        self.storage, self.delay = storage, delay

    async def get_space(self, space_id: str) -> api.Space:
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    async def mkdir(self, space_id: str, path: Any) -> api.Node:
        await asyncio.sleep(self.delay)
        return await self.storage.mkdir(space_id, path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


async def test_a_storage_call_that_hangs_on_the_provider_answers_503(
        local: SqliteStorage) -> None:
    slow = Slow(local, delay=1.0)
    runner, url = await serve(internal_app(lambda: slow, SECRET, call_timeout=0.3))  # type: ignore[arg-type,return-value]
    remote = RemoteStorage(url, SECRET, STORAGE_ID)
    try:
        t0 = time.monotonic()
        with pytest.raises(errors.ServiceUnavailable) as caught:
            await remote.get_space(USER)
        assert time.monotonic() - t0 < 2 and caught.value.retry_after >= 1
        assert "took too long" in str(caught.value)
        with pytest.raises(errors.ServiceUnavailable):
            await remote.mkdir(USER, ("late",))
        await asyncio.sleep(1.5)                 # the write went on to its end on the provider
        assert (await local.lookup(USER, ("late",))).is_dir
        assert (await remote.lookup(USER, ("late",))).is_dir      # quick calls still answer
        # the front gives up before the provider's time-out: the write still finishes
        async with aiohttp.ClientSession() as http:
            with pytest.raises(TimeoutError):
                await http.post(f"{url}/rpc/mkdir", headers={SECRET_HEADER: SECRET},
                                json={"args": {"space_id": USER, "path": ["gone"]}},
                                timeout=aiohttp.ClientTimeout(total=0.1))
        await asyncio.sleep(1.5)
        assert (await local.lookup(USER, ("gone",))).is_dir
    finally:
        await remote.close()
        await runner.cleanup()
