"""ocdav/zerocopy.py: zero-copy file bodies on uvloop (which has no loop.sendfile) and asyncio,
end to end through a real socket: offsets (Range), back-pressure (EAGAIN), headers first,
a client that goes away."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ocis_server.services.ocdav import zerocopy

uvloop = pytest.importorskip("uvloop")
LOOPS = {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}


def run(factory: Callable[[], asyncio.AbstractEventLoop], coro_fn: Callable) -> object:
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro_fn())


async def serve_once(path: Path, offset: int, count: int, head: bytes,
                     done: asyncio.Future) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head)                       # may sit in the transport's buffer
        try:
            with path.open("rb") as fobj:
                ok = await zerocopy.send_file(writer.transport, fobj, offset, count)
            done.set_result(ok)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            done.set_exception(exc)
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("offset,count", [(0, 6 << 20), (12345, 3 << 20), (100, 1)])
def test_sends_exact_range_after_headers(tmp_path: Path, loop: str, offset: int, count: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    used = []
    own = zerocopy._uvloop_sendfile

    async def spy(*args: object) -> None:
        used.append(args)
        await own(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(zerocopy, "_uvloop_sendfile", spy)
    data = os.urandom(6 << 20)
    path = tmp_path / "blob"
    path.write_bytes(data)
    head = b"H" * 100_000

    async def main() -> bytes:
        done = asyncio.get_running_loop().create_future()
        server = await serve_once(path, offset, count, head, done)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        got = bytearray()
        while chunk := await reader.read(64 * 1024):
            got += chunk
            if len(got) < 1 << 20:
                await asyncio.sleep(0.001)      # a slow start: the sender must wait (EAGAIN)
        assert await done is True
        writer.close()
        server.close()
        return bytes(got)

    got = run(LOOPS[loop], main)
    assert got == head + data[offset:offset + count]
    assert len(used) == (loop == "uvloop")      # asyncio's own sendfile serves asyncio


def test_uvloop_client_gone_is_connection_reset(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(32 << 20))

    async def main() -> None:
        done = asyncio.get_running_loop().create_future()
        server = await serve_once(path, 0, 32 << 20, b"", done)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.read(1024)
        writer.transport.abort()                # gone mid-body
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(done, 10)
        server.close()

    run(uvloop.new_event_loop, main)


def test_uvloop_tls_or_foreign_transport_is_refused() -> None:
    class Foreign:
        def get_extra_info(self, name: str) -> object:
            return None

    assert zerocopy._plain_uvloop_tcp(Foreign()) is False  # type: ignore[arg-type]
