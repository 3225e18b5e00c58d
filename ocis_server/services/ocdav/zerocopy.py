"""Zero-copy file bodies: the loop's native sendfile (asyncio), or for uvloop, which has none,
os.sendfile on the plain TCP socket the way asyncio does it natively (reading paused, EAGAIN
waited out with a writer callback on a duplicate of the socket's fd)."""

from __future__ import annotations

import asyncio
import os
from typing import IO, Any

BLOCK = 16 * 1024 * 1024     # bytes per os.sendfile call; the socket buffer bounds it anyway


def _plain_uvloop_tcp(transport: asyncio.BaseTransport) -> bool:
    """True for uvloop's own TCP transport (never TLS: its socket carries the ciphertext)."""
    try:
        from uvloop.loop import TCPTransport  # type: ignore[attr-defined]
    except ImportError:
        return False
    return (type(transport) is TCPTransport
            and transport.get_extra_info("sslcontext") is None
            and transport.get_extra_info("socket") is not None)


async def send_file(transport: Any, fobj: IO[bytes], offset: int, count: int) -> bool:
    """Send count bytes of fobj from offset without copying them through Python. False (and
    nothing sent) when neither path applies: the caller then reads and writes chunks."""
    loop = asyncio.get_running_loop()
    try:
        await loop.sendfile(transport, fobj, offset, count, fallback=False)
        return True
    except (NotImplementedError, asyncio.SendfileNotAvailableError):
        pass                                  # uvloop, or a transport asyncio can't serve
    if not _plain_uvloop_tcp(transport):
        return False
    await _uvloop_sendfile(loop, transport, fobj.fileno(), offset, count)
    return True


async def _uvloop_sendfile(loop: asyncio.AbstractEventLoop, transport: Any, in_fd: int,
                           offset: int, count: int) -> None:
    # uvloop refuses add_writer on an fd a transport owns; a dup is the same socket.
    out_fd = os.dup(transport.get_extra_info("socket").fileno())
    waiter: list[asyncio.Future[None]] = []

    def writable() -> None:
        if waiter and not waiter[0].done():
            waiter[0].set_result(None)

    was_reading = transport.is_reading()
    transport.pause_reading()
    try:
        while transport.get_write_buffer_size():   # the headers go out first, in order
            _check_open(transport)
            await asyncio.sleep(0.001)
        loop.add_writer(out_fd, writable)
        try:
            while count > 0:
                _check_open(transport)
                try:
                    sent = os.sendfile(out_fd, in_fd, offset, min(count, BLOCK))
                except BlockingIOError:
                    waiter[:] = [loop.create_future()]
                    await waiter[0]
                    continue
                except (BrokenPipeError, ConnectionResetError) as exc:
                    raise ConnectionResetError("Connection lost") from exc
                if sent == 0:
                    raise ConnectionResetError("file ended before the announced length")
                offset += sent
                count -= sent
        finally:
            loop.remove_writer(out_fd)
    finally:
        os.close(out_fd)
        if was_reading and not transport.is_closing():
            transport.resume_reading()


def _check_open(transport: Any) -> None:
    if transport.is_closing():
        raise ConnectionResetError("Connection lost")
