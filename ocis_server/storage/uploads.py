"""Upload sessions (TUS and chunking NG): a row in `uploads` plus partial data under the storage
root, `uploads/<id>` (TUS: bytes appended in order) or `uploads/<id>.chunks/<name>` (chunking NG:
one file per chunk, any order). Sessions survive restarts; finishing reuses the PUT commit path.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import threading
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    NotFound,
    OcisError,
    disk_full_error,
)
from ocis_server.domain.ids import new_id

from . import ops
from .api import UploadResult, UploadSession
from .blobs import CHECKSUM_ALGORITHMS, BlobStore, Digest, start_writeback
from .diskspace import DiskGuard, check_file_size
from .writer import Tx

CHUNK_ALGORITHMS = ("md5", "sha1", "adler32", "crc32")
_COLS = ("id, kind, user_id, space_id, path, size, offset, mtime, checksum, if_match, created,"
         " expires, transfer")
_BLOCK = 1 << 20
_LAG = 8 * _BLOCK   # bytes a running hash chain may be behind the writes (memory bound)
_ORPHAN_AGE = 600   # seconds partial data without a session row must be old before it is removed


def _session(row: Sequence[Any]) -> UploadSession:
    (uid, kind, user_id, space_id, path, size, offset, mtime, checksum, if_match, created,
     expires, transfer) = row
    algo, _, value = (checksum or "").partition(":")
    return UploadSession(id=uid, kind=kind, user_id=user_id, space_id=space_id,
                         path=tuple(path.split("/")) if path else (), size=int(size),
                         offset=int(offset), mtime=mtime,
                         checksum=(algo, value) if checksum else None, if_match=if_match,
                         created=float(created), expires=float(expires), transfer=transfer)


def _insert(tx: Tx, s: UploadSession) -> None:
    tx.conn.execute(f"INSERT INTO uploads({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (
        s.id, s.kind, s.user_id, s.space_id, "/".join(s.path), s.size, s.offset, s.mtime,
        ":".join(s.checksum) if s.checksum else None, s.if_match, s.created, s.expires,
        s.transfer))


def _set_offset(tx: Tx, upload_id: str, offset: int) -> None:
    tx.conn.execute("UPDATE uploads SET offset = ? WHERE id = ?", (offset, upload_id))


def _remove_row(tx: Tx, upload_id: str) -> None:
    tx.conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))


class _Hasher:
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


class _Lagging:
    """Hashers fed in order by one thread and drained, in order, in a helper thread at most
    _LAG bytes behind: a PATCH is acknowledged without waiting for its hashing."""

    def __init__(self, hashers: Sequence[_Hasher], helper: Executor) -> None:
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

    update = feed   # fed where a _Hasher would be (a chunk checksum hashed beside the write)

    def wait(self) -> None:
        with self._cond:
            while self._busy:
                self._cond.wait()


class _Running:
    """Whole-file hashes of a TUS upload kept while the process lives (no re-read at the end);
    with a `helper`, hashed there in two lagging chains (MD5 alone: it is the slowest)."""

    def __init__(self, helper: Executor | None = None) -> None:
        self.offset = 0
        self.hashers = [_Hasher(a) for a in ("sha1", "adler32", "md5")]
        self._chains = ([_Lagging(self.hashers[:2], helper), _Lagging(self.hashers[2:], helper)]
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


def _hash_file(path: Path) -> Digest:
    running = _Running()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            running.update(block)
    digest = running.digest()
    assert digest is not None   # hashed inline: nothing can break
    return digest


def _tree_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size if path.exists() else 0


class UploadSessions:
    """Mixed into SqliteStorage: the upload-session half of `storage.api.Storage`."""

    root: Path
    storage_id: str
    _io: Any
    _blobs: BlobStore
    _read: Callable[..., Any]
    _write: Callable[..., Any]
    _commit_blob: Callable[..., Any]
    _chunk_bytes: Callable[[str], int]      # chunked.ChunkedUploads: bytes a chunked session holds

    # --- plumbing ---------------------------------------------------------------------------

    def _uploads_dir(self) -> Path:
        return self.root / "uploads"

    def _partial(self, upload_id: str) -> Path:
        return self._uploads_dir() / upload_id

    def _chunk_dir(self, upload_id: str) -> Path:
        return self._uploads_dir() / f"{upload_id}.chunks"

    def _upload_lock(self, upload_id: str) -> asyncio.Lock:
        locks: dict[str, asyncio.Lock] = self.__dict__.setdefault("_upload_locks", {})
        return locks.setdefault(upload_id, asyncio.Lock())

    def _running(self) -> dict[str, _Running]:
        return self.__dict__.setdefault("_running_hashes", {})  # type: ignore[no-any-return]

    async def _in_io(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def _forget(self, upload_id: str) -> None:
        self._running().pop(upload_id, None)
        self.__dict__.get("_upload_locks", {}).pop(upload_id, None)

    def _remove_files(self, upload_id: str) -> int:
        freed = 0
        partial, chunks = self._partial(upload_id), self._chunk_dir(upload_id)
        if partial.exists():
            freed += partial.stat().st_size
            partial.unlink(missing_ok=True)
        if chunks.is_dir():
            freed += _tree_bytes(chunks)
            shutil.rmtree(chunks, ignore_errors=True)
        return freed

    # --- sessions ---------------------------------------------------------------------------

    async def create_upload(self, space_id: str, path: Sequence[str], *, size: int, user_id: str,
                            mtime: float | None = None, checksum: tuple[str, str] | None = None,
                            if_match: str | None = None, expires_in: float) -> UploadSession:
        parts = tuple(path)
        if size < 0:
            raise BadRequest("the upload length must not be negative")
        check_file_size(size)
        if checksum is not None:
            checksum = (checksum[0].strip().lower(), checksum[1].strip().lower())
            if checksum[0] not in CHECKSUM_ALGORITHMS:
                raise BadRequest(f"unsupported checksum algorithm {checksum[0]!r}")
        await self._read(lambda conn: ops.check_upload(
            conn, self.storage_id, space_id, parts, if_match=if_match, if_none_match_any=False,
            size=size))
        await self._in_io(self._blobs.require_room, size)   # 507 before any byte arrives
        now = time.time()
        session = UploadSession(id=new_id(), kind="tus", user_id=user_id, space_id=space_id,
                                path=parts, size=size, offset=0, mtime=mtime, checksum=checksum,
                                if_match=if_match, created=now, expires=now + expires_in)
        await self._in_io(lambda: self._uploads_dir().mkdir(parents=True, exist_ok=True))
        await self._write(_insert, session)
        return session

    async def get_upload(self, upload_id: str) -> UploadSession:
        def query(conn: sqlite3.Connection) -> UploadSession:
            row = conn.execute(f"SELECT {_COLS} FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if row is None:
                raise NotFound("upload session not found")
            return _session(row)
        session: UploadSession = await self._read(query)
        if session.expired:
            raise NotFound("upload session expired")
        return session

    async def list_uploads(self, expired: bool | None = None) -> list[UploadSession]:
        rows = await self._read(
            lambda conn: conn.execute(f"SELECT {_COLS} FROM uploads ORDER BY created").fetchall())
        sessions = [_session(r) for r in rows]
        if expired is not None:
            sessions = [s for s in sessions if s.expired == expired]
        out = []
        for s in sessions:   # a chunked session's offset is what its folder holds
            if s.kind == "chunks":
                received = await self._in_io(self._chunk_bytes, s.id)
                s = UploadSession(**{**_fields(s), "offset": received})
            out.append(s)
        return out

    async def delete_upload(self, upload_id: str) -> None:
        async with self._upload_lock(upload_id):
            await self.get_upload(upload_id)
            await self._write(_remove_row, upload_id)
            await self._in_io(self._remove_files, upload_id)
        self._forget(upload_id)

    async def clean_uploads(self, expired_only: bool = True) -> tuple[int, int]:
        """Remove (expired) sessions and their data; also partial data without a session row."""
        sessions = await self.list_uploads(expired=True if expired_only else None)
        freed = 0
        for s in sessions:
            await self._write(_remove_row, s.id)
            freed += await self._in_io(self._remove_files, s.id)
            self._forget(s.id)
        known = {s.id for s in await self.list_uploads()}
        freed += await self._in_io(self._remove_orphans, known)
        return len(sessions), freed

    def _remove_orphans(self, known: set[str]) -> int:
        folder = self._uploads_dir()
        if not folder.is_dir():
            return 0
        freed = 0
        settled = time.time() - _ORPHAN_AGE   # a session created meanwhile is never touched
        for entry in folder.iterdir():
            upload_id = entry.name.removesuffix(".chunks").removesuffix(".part")
            if upload_id not in known and entry.stat().st_mtime < settled:
                freed += self._remove_files(upload_id)
                if entry.exists():   # a stray name (e.g. an interrupted chunk temp)
                    freed += _tree_bytes(entry)
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink(missing_ok=True)
        return freed

    # --- TUS: append in order ----------------------------------------------------------------

    async def append_upload(self, upload_id: str, offset: int, body: AsyncIterator[bytes], *,
                            length: int | None = None,
                            chunk_checksum: tuple[str, str] | None = None
                            ) -> tuple[UploadSession, UploadResult | None]:
        if chunk_checksum is not None and chunk_checksum[0].lower() not in CHUNK_ALGORITHMS:
            raise BadRequest(f"unsupported checksum algorithm {chunk_checksum[0]!r}")
        async with self._upload_lock(upload_id):
            session = await self.get_upload(upload_id)
            if session.kind != "tus":
                raise Conflict("not a TUS upload")
            if offset != session.offset:
                raise Conflict(f"the upload is at offset {session.offset}")
            if length is not None and offset + length > session.size:
                raise BadRequest("the chunk goes past the upload length")
            new_offset = await self._append(session, body, chunk_checksum)
            if new_offset != session.offset:
                await self._write(_set_offset, upload_id, new_offset)
            session = UploadSession(**{**_fields(session), "offset": new_offset})
            if new_offset < session.size:
                return session, None
            result = await self._finish(session)
        self._forget(upload_id)
        return session, result

    async def _append(self, session: UploadSession, body: AsyncIterator[bytes],
                      chunk_checksum: tuple[str, str] | None) -> int:
        """Stream a chunk to the partial file at the session offset; fsync. Returns the new
        offset. Bytes of an interrupted chunk are kept (TUS resume) unless a chunk checksum
        was sent; a bad chunk is cut off again."""
        path, start, room = self._partial(session.id), session.offset, session.size - session.offset
        running = self._running().get(session.id)
        if running is None and start == 0:
            running = self._running()[session.id] = _Running(self._blobs.helper)
        if running is not None and running.offset != start:
            running = None
            self._running().pop(session.id, None)
        hasher = _Hasher(chunk_checksum[0].lower()) if chunk_checksum else None
        # The chunk checksum is computed in a helper thread beside the writes, awaited at the end.
        chain = _Lagging([hasher], self._blobs.helper) if hasher is not None else None
        fd = await self._in_io(_open_at, path, start)
        blocks = _Blocks(self._io, fd, chain, running, self._blobs.guard)
        ok = False
        try:
            await blocks.receive(body, room)
            if chain is not None:
                await self._in_io(chain.wait)
                if chain.broken:
                    raise OSError("the chunk checksum could not be computed")
            if hasher is not None and hasher.hexdigest() != chunk_checksum[1].lower():  # type: ignore[index]
                raise ChecksumMismatch("the chunk checksum does not match (Upload-Checksum)")
            ok = True
        finally:
            await blocks.settle()
            # Without a chunk checksum what arrived before an interruption is kept (TUS resume).
            keep = ok or chunk_checksum is None
            if keep:
                await blocks.keep_rest()    # on a full disk: as much as fits
            if not ok:
                self._running().pop(session.id, None)   # hashes may have seen cut-off bytes
            written = blocks.written
            kept = written if keep else 0
            await asyncio.shield(self._in_io(_close_synced, fd, start + kept))
            if not ok and kept:
                await asyncio.shield(self._write(_set_offset, session.id, start + kept))
        return start + written

    async def _finish(self, session: UploadSession) -> UploadResult:
        """All bytes are there: hash (unless hashed on the way), link the partial file into the
        blob store, commit like a PUT and drop the session in the same transaction."""
        path = self._partial(session.id)
        running = self._running().get(session.id)
        digest = None
        if running is not None and running.offset == session.size:
            digest = await self._in_io(running.digest)
        if digest is None:
            digest = await self._in_io(_hash_file, path)
        try:
            digest.verify(session.checksum)
        except ChecksumMismatch:
            await self._drop_session(session.id)
            raise
        blob_id = new_id()
        await self._in_io(self._link_blob, path, blob_id)
        try:
            result: UploadResult = await self._commit_blob(
                session.space_id, session.path, blob_id, digest, session.mtime,
                session.if_match, False, lambda tx: _remove_row(tx, session.id))
        except OcisError:
            await self._drop_session(session.id)
            raise
        await self._in_io(self._remove_files, session.id)
        return result

    def _link_blob(self, path: Path, blob_id: str) -> None:
        if not path.exists():   # a zero-length upload never wrote a byte
            path.touch()
        self._blobs.adopt(path, blob_id)

    async def _drop_session(self, upload_id: str) -> None:
        await self._write(_remove_row, upload_id)
        await self._in_io(self._remove_files, upload_id)
        self._forget(upload_id)


class _Blocks:
    """A request body written at a descriptor's position in ~1 MiB blocks: each block is written
    (and fed to the hashers) in an I/O thread while the next one arrives, in order (the next is
    handed over only once the previous one is done). Used by TUS PATCHes and NG chunks."""

    def __init__(self, io: Executor, fd: int, hasher: _Hasher | _Lagging | None,
                 running: _Running | None, guard: DiskGuard | None = None) -> None:
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
            if buffered >= _BLOCK:
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


def _fields(s: UploadSession) -> dict[str, Any]:
    return {name: getattr(s, name) for name in UploadSession.__dataclass_fields__}


def _open_at(path: Path, offset: int) -> int:
    """A write descriptor positioned at `offset`; anything beyond it (bytes written before a
    crash but never acknowledged) is cut off."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    if os.fstat(fd).st_size < offset:
        os.close(fd)
        raise NotFound("the partial upload data is missing")
    os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return fd


def _write_block(fd: int, data: bytes, hasher: _Hasher | _Lagging | None,
                 running: _Running | None, guard: DiskGuard | None = None) -> None:
    if guard is not None:
        guard.require(len(data))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if len(data) >= _BLOCK // 4:
        start_writeback(fd)   # the PATCH's closing fsync then waits for the last block only
    if hasher is not None:
        hasher.update(data)
    if running is not None:
        running.update(data)


def _close_synced(fd: int, keep: int) -> None:
    try:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
