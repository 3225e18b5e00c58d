"""What both kinds of upload session share (TUS in uploads.py, chunking NG in chunked.py): the
`uploads` row of a session, request bodies written in blocks at a descriptor's position, and the
whole-file hashes kept while the bytes arrive.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import zlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import BadRequest, NotFound, OcisError, disk_full_error

from .api import UploadSession
from .blobs import Digest, start_writeback
from .diskspace import DiskGuard
from .writer import Tx

CHUNK_ALGORITHMS = ("md5", "sha1", "adler32", "crc32")
SESSION_COLUMNS = ("id, kind, user_id, space_id, path, size, offset, mtime, checksum, if_match,"
                   " created, expires, transfer")
BLOCK = 1 << 20
_LAG = 8 * BLOCK   # bytes a running hash chain may be behind the writes (memory bound)


def session_from_row(row: Sequence[Any]) -> UploadSession:
    (uid, kind, user_id, space_id, path, size, offset, mtime, checksum, if_match, created,
     expires, transfer) = row
    algo, _, value = (checksum or "").partition(":")
    return UploadSession(id=uid, kind=kind, user_id=user_id, space_id=space_id,
                         path=tuple(path.split("/")) if path else (), size=int(size),
                         offset=int(offset), mtime=mtime,
                         checksum=(algo, value) if checksum else None, if_match=if_match,
                         created=float(created), expires=float(expires), transfer=transfer)


def insert_session(tx: Tx, s: UploadSession) -> None:
    tx.conn.execute(f"INSERT INTO uploads({SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (
        s.id, s.kind, s.user_id, s.space_id, "/".join(s.path), s.size, s.offset, s.mtime,
        ":".join(s.checksum) if s.checksum else None, s.if_match, s.created, s.expires,
        s.transfer))


def set_offset(tx: Tx, upload_id: str, offset: int) -> None:
    tx.conn.execute("UPDATE uploads SET offset = ? WHERE id = ?", (offset, upload_id))


def remove_session(tx: Tx, upload_id: str) -> None:
    tx.conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))


class Hasher:
    """One checksum algorithm of CHUNK_ALGORITHMS behind one interface; hex digest."""

    def __init__(self, algo: str) -> None:
        self.algo = algo
        self._h = hashlib.new(algo, usedforsecurity=False) if algo in ("md5", "sha1") else None
        self._v = 1 if algo == "adler32" else 0

    def update(self, data: bytes) -> None:
        if self._h is not None:
            self._h.update(data)
        elif self.algo == "adler32":
            self._v = zlib.adler32(data, self._v)
        else:
            self._v = zlib.crc32(data, self._v)

    def hexdigest(self) -> str:
        return self._h.hexdigest() if self._h is not None else f"{self._v:08x}"


class LaggingHashes:
    """Hashers fed in order by one thread and drained, in order, in a helper thread at most
    _LAG bytes behind: a PATCH is acknowledged without waiting for its hashing."""

    def __init__(self, hashers: Sequence[Hasher], helper: Executor) -> None:
        self._hashers, self._helper = hashers, helper
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._busy = self.broken = False
        self._cond = threading.Condition()

    def feed(self, data: bytes) -> None:
        with self._cond:
            if self.broken:
                return
            while self._queued >= _LAG and self._busy:
                self._cond.wait()
            self._queue.append(data)
            self._queued += len(data)
            if not self._busy:
                try:
                    self._helper.submit(self._drain)
                except RuntimeError:   # the pool is shut down: the digest re-reads the file
                    self.broken = True
                    self._queue.clear()
                    return
                self._busy = True

    def _drain(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._queue:
                        self._busy = False   # under the lock: a feed now starts a new drain
                        self._cond.notify_all()
                        return
                    data = self._queue[0]
                for h in self._hashers:
                    h.update(data)
                with self._cond:
                    self._queue.popleft()
                    self._queued -= len(data)
                    self._cond.notify_all()
        except BaseException:
            with self._cond:
                self.broken, self._busy = True, False
                self._queue.clear()
                self._cond.notify_all()
            raise

    update = feed   # fed where a Hasher would be (a chunk checksum hashed beside the write)

    def wait(self) -> None:
        with self._cond:
            while self._busy:
                self._cond.wait()


class RunningHashes:
    """Whole-file hashes of a TUS upload kept while the process lives (no re-read at the end);
    with a `helper`, hashed there in two lagging chains (MD5 alone: it is the slowest)."""

    def __init__(self, helper: Executor | None = None) -> None:
        self.offset = 0
        self.hashers = [Hasher(a) for a in ("sha1", "adler32", "md5")]
        self._chains = ([LaggingHashes(self.hashers[:2], helper),
                         LaggingHashes(self.hashers[2:], helper)]
                        if helper is not None else [])

    def update(self, data: bytes) -> None:
        if self._chains:
            for chain in self._chains:
                chain.feed(data)
        else:
            for h in self.hashers:
                h.update(data)
        self.offset += len(data)

    def digest(self) -> Digest | None:
        """The hashes once everything fed is hashed (blocking); None if hashing broke."""
        for chain in self._chains:
            chain.wait()
        if any(chain.broken for chain in self._chains):
            return None
        sha1, adler, md5 = (h.hexdigest() for h in self.hashers)
        return Digest(self.offset, sha1, md5, adler)


def hash_file(path: Path) -> Digest:
    running = RunningHashes()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            running.update(block)
    digest = running.digest()
    assert digest is not None   # hashed inline: nothing can break
    return digest


class Blocks:
    """A request body written at a descriptor's position in ~1 MiB blocks: each block is written
    (and fed to the hashers) in an I/O thread while the next one arrives, in order (the next is
    handed over only once the previous one is done). Used by TUS PATCHes and NG chunks."""

    def __init__(self, io: Executor, fd: int, hasher: Hasher | LaggingHashes | None,
                 running: RunningHashes | None, guard: DiskGuard | None = None) -> None:
        self._io, self._fd, self._hasher, self._running = io, fd, hasher, running
        self._guard = guard       # a block that would eat into the free-space reserve: 507
        self.written = 0                       # bytes on disk (in the file, not yet synced)
        self._buffer: list[bytes] = []
        self._pending: asyncio.Future[Any] | None = None
        self._pending_len = 0

    async def receive(self, body: AsyncIterator[bytes], room: int | None = None) -> None:
        """Write all of `body`; BadRequest as soon as it exceeds `room` bytes."""
        loop = asyncio.get_running_loop()
        received = buffered = 0
        async for data in body:
            if not data:
                continue
            received += len(data)
            if room is not None and received > room:
                raise BadRequest("the chunk goes past the upload length")
            self._buffer.append(data)
            buffered += len(data)
            if buffered >= BLOCK:
                block, self._buffer, buffered = b"".join(self._buffer), [], 0
                await self._wait()
                self._pending = loop.run_in_executor(
                    self._io, _write_block, self._fd, block, self._hasher, self._running,
                    self._guard)
                self._pending_len = len(block)
        await self._wait()
        if self._buffer:   # the tail, hashed off the loop
            block, self._buffer = b"".join(self._buffer), []
            await loop.run_in_executor(self._io, _write_block, self._fd, block, self._hasher,
                                       self._running, self._guard)
            self.written += len(block)

    async def _wait(self) -> None:
        if self._pending is not None:   # shielded: a cancel must not orphan the write
            await asyncio.shield(self._pending)
            self.written, self._pending = self.written + self._pending_len, None

    async def settle(self) -> None:
        """After an interruption: let the block in flight finish (counted unless it failed)."""
        if self._pending is not None:
            try:
                await asyncio.shield(self._pending)
            except (OSError, OcisError):  # the original error propagates; this block is lost
                self._pending_len = 0
            self.written, self._pending = self.written + self._pending_len, None

    async def keep_rest(self) -> None:
        """Write what was received but not yet written (a TUS chunk kept for resuming; the
        chunk checksum, if any, is not fed: the chunk failed)."""
        if self._buffer:
            block, self._buffer = b"".join(self._buffer), []
            try:
                await asyncio.shield(asyncio.get_running_loop().run_in_executor(
                    self._io, _write_block, self._fd, block, None, self._running, self._guard))
            except (OSError, OcisError) as exc:
                if disk_full_error(exc) is None:
                    raise
                return     # no room: the client resumes from what is on disk
            self.written += len(block)


def open_at(path: Path, offset: int) -> int:
    """A write descriptor positioned at `offset`; anything beyond it (bytes written before a
    crash but never acknowledged) is cut off."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    if os.fstat(fd).st_size < offset:
        os.close(fd)
        raise NotFound("the partial upload data is missing")
    os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return fd


def _write_block(fd: int, data: bytes, hasher: Hasher | LaggingHashes | None,
                 running: RunningHashes | None, guard: DiskGuard | None = None) -> None:
    if guard is not None:
        guard.require(len(data))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if len(data) >= BLOCK // 4:
        start_writeback(fd)   # the PATCH's closing fsync then waits for the last block only
    if hasher is not None:
        hasher.update(data)
    if running is not None:
        running.update(data)


def close_synced(fd: int, keep: int) -> None:
    try:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
