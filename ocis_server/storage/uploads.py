"""Upload sessions (TUS and chunking NG): a row in `uploads` plus partial data under the storage
root, `uploads/<id>` (TUS: bytes appended in order) or `uploads/<id>.chunks/<name>` (chunking NG:
one file per chunk, any order). Sessions survive restarts; finishing reuses the PUT commit path.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    NotFound,
    OcisError,
)
from ocis_server.domain.ids import new_id

from . import ops
from .api import UploadResult, UploadSession
from .blobs import CHECKSUM_ALGORITHMS, BlobStore
from .diskspace import check_file_size
from .uploadio import (
    CHUNK_ALGORITHMS,
    SESSION_COLUMNS,
    Blocks,
    Hasher,
    LaggingHashes,
    RunningHashes,
    close_synced,
    hash_file,
    insert_session,
    open_at,
    remove_session,
    session_from_row,
    set_offset,
)

_ORPHAN_AGE = 600   # seconds partial data without a session row must be old before it is removed


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

    def _running(self) -> dict[str, RunningHashes]:
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
        await self._write(insert_session, session)
        return session

    async def get_upload(self, upload_id: str) -> UploadSession:
        def query(conn: sqlite3.Connection) -> UploadSession:
            row = conn.execute(f"SELECT {SESSION_COLUMNS} FROM uploads WHERE id = ?",
                               (upload_id,)).fetchone()
            if row is None:
                raise NotFound("upload session not found")
            return session_from_row(row)
        session: UploadSession = await self._read(query)
        if session.expired:
            raise NotFound("upload session expired")
        return session

    async def list_uploads(self, expired: bool | None = None) -> list[UploadSession]:
        rows = await self._read(
            lambda conn: conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM uploads ORDER BY created").fetchall())
        sessions = [session_from_row(r) for r in rows]
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
            await self._write(remove_session, upload_id)
            await self._in_io(self._remove_files, upload_id)
        self._forget(upload_id)

    async def clean_uploads(self, expired_only: bool = True) -> tuple[int, int]:
        """Remove (expired) sessions and their data; also partial data without a session row."""
        sessions = await self.list_uploads(expired=True if expired_only else None)
        freed = 0
        for s in sessions:
            await self._write(remove_session, s.id)
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
                await self._write(set_offset, upload_id, new_offset)
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
            running = self._running()[session.id] = RunningHashes(self._blobs.helper)
        if running is not None and running.offset != start:
            running = None
            self._running().pop(session.id, None)
        hasher = Hasher(chunk_checksum[0].lower()) if chunk_checksum else None
        # The chunk checksum is computed in a helper thread beside the writes, awaited at the end.
        chain = LaggingHashes([hasher], self._blobs.helper) if hasher is not None else None
        fd = await self._in_io(open_at, path, start)
        blocks = Blocks(self._io, fd, chain, running, self._blobs.guard)
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
            await asyncio.shield(self._in_io(close_synced, fd, start + kept))
            if not ok and kept:
                await asyncio.shield(self._write(set_offset, session.id, start + kept))
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
            digest = await self._in_io(hash_file, path)
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
                session.if_match, False, lambda tx: remove_session(tx, session.id))
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
        await self._write(remove_session, upload_id)
        await self._in_io(self._remove_files, upload_id)
        self._forget(upload_id)


def _fields(s: UploadSession) -> dict[str, Any]:
    return {name: getattr(s, name) for name in UploadSession.__dataclass_fields__}
