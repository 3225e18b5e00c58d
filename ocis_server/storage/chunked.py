"""Chunking NG sessions (clients.md §2 #17): chunks stored one file each under
`uploads/<id>.chunks/` in any order and in parallel, assembled in order into a hashed blob at the
final MOVE and committed through the same path as a PUT. Mixed into SqliteStorage.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import AlreadyExists, BadRequest, Conflict, NotFound
from ocis_server.domain.ids import new_id

from . import ops
from .api import UploadResult, UploadSession
from .blobs import Digest
from .uploads import (
    _BLOCK,
    _COLS,
    _close_synced,
    _fsync_dir,
    _insert,
    _open_at,
    _remove_row,
    _session,
    _write_block,
)
from .writer import Tx

# A chunk's name: an offset or a sequence number, or a `<start>-<end>` byte range (both inclusive),
# each zero-padded (ASCII digits only: int() would take other scripts' digits).
_CHUNK_NAME = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")


class ChunkedUploads:
    """The chunking-NG half of the upload sessions (the TUS half is uploads.UploadSessions)."""

    storage_id: str
    _blobs: Any
    _read: Callable[..., Any]
    _write: Callable[..., Any]
    _commit_blob: Callable[..., Any]
    _in_io: Callable[..., Any]
    _chunk_dir: Callable[[str], Path]
    _upload_lock: Callable[[str], asyncio.Lock]
    _remove_files: Callable[[str], int]
    _forget: Callable[[str], None]
    get_upload: Callable[..., Any]

    async def create_chunked_upload(self, user_id: str, transfer: str, *, size: int | None = None,
                                    expires_in: float) -> UploadSession:
        try:
            await self.find_chunked_upload(user_id, transfer)
        except NotFound:
            pass
        else:
            raise AlreadyExists("this transfer exists")
        now = time.time()
        session = UploadSession(id=new_id(), kind="chunks", user_id=user_id, space_id="",
                                path=(), size=-1 if size is None else size, offset=0, mtime=None,
                                checksum=None, if_match=None, created=now,
                                expires=now + expires_in, transfer=transfer)

        def insert(tx: Tx) -> None:   # an expired one of the same name goes first
            tx.conn.execute("DELETE FROM uploads WHERE user_id = ? AND transfer = ?",
                            (user_id, transfer))
            _insert(tx, session)
        await self._write(insert)
        await self._in_io(lambda: self._chunk_dir(session.id).mkdir(parents=True, exist_ok=True))
        return session

    async def find_chunked_upload(self, user_id: str, transfer: str) -> UploadSession:
        def query(conn: sqlite3.Connection) -> UploadSession:
            row = conn.execute(f"SELECT {_COLS} FROM uploads WHERE user_id = ? AND transfer = ?"
                               " AND kind = 'chunks'", (user_id, transfer)).fetchone()
            if row is None:
                raise NotFound("upload transfer not found")
            return _session(row)
        session: UploadSession = await self._read(query)
        if session.expired:
            raise NotFound("upload transfer expired")
        return session

    async def put_upload_chunk(self, upload_id: str, name: str, body: AsyncIterator[bytes], *,
                               length: int | None = None) -> int:
        """Store one chunk durably under its name (a zero-padded offset or sequence number, or a
        `<start>-<end>` byte range); a re-sent chunk replaces the earlier copy."""
        parsed = _parse_name(name)
        if parsed is None:
            raise BadRequest("a chunk name is its zero-padded offset or <start>-<end> byte range")
        start, end = parsed
        if end is not None and end < start - 1:
            raise BadRequest("a chunk's byte range ends before it starts")
        session = await self.get_upload(upload_id)
        if session.kind != "chunks":
            raise Conflict("not a chunked upload")
        folder = self._chunk_dir(upload_id)
        temp = folder / f".{name}.{new_id()}.part"
        fd = await self._in_io(_open_at, temp, 0)
        written, ok = 0, False
        try:
            async for data in body:
                if data:
                    await self._in_io(_write_block, fd, data, None, None)
                    written += len(data)
            if length is not None and written != length:
                raise BadRequest("the body is shorter than the announced length")
            if end is not None and end != start + written - 1:
                raise BadRequest(f"chunk {name} holds {written} bytes, not its byte range")
            ok = True
        finally:
            await asyncio.shield(self._in_io(_close_synced, fd, written))
            if ok:
                await self._in_io(_place_chunk, temp, folder / name)
            else:
                await self._in_io(lambda: temp.unlink(missing_ok=True))
        return written

    async def upload_chunks(self, upload_id: str) -> list[tuple[str, int, float]]:
        await self.get_upload(upload_id)
        return list(await self._in_io(_list_chunks, self._chunk_dir(upload_id)))

    async def finish_chunked_upload(self, upload_id: str, space_id: str, path: Sequence[str], *,
                                    size: int | None = None, mtime: float | None = None,
                                    checksum: tuple[str, str] | None = None,
                                    if_match: str | None = None) -> UploadResult:
        parts = tuple(path)
        async with self._upload_lock(upload_id):
            session = await self.get_upload(upload_id)
            total = size if size is not None else (session.size if session.size >= 0 else None)
            await self._read(lambda conn: ops.check_upload(
                conn, self.storage_id, space_id, parts, if_match=if_match,
                if_none_match_any=False, size=total))
            temp = self._blobs.temp()
            blob_id = new_id()
            try:
                digest = await self._in_io(self._assemble, upload_id, temp, total, checksum,
                                           blob_id)
            except BaseException:
                await asyncio.shield(self._in_io(temp.discard))
                raise
            result: UploadResult = await self._commit_blob(
                space_id, parts, blob_id, digest, mtime, if_match, False,
                lambda tx: _remove_row(tx, upload_id))
            await self._in_io(self._remove_files, upload_id)
        self._forget(upload_id)
        return result

    def _assemble(self, upload_id: str, temp: Any, total: int | None,
                  checksum: tuple[str, str] | None, blob_id: str) -> Digest:
        """Concatenate the chunks in order into a hashed temp blob and place it. Chunk names are
        zero-padded offsets (owncloudcmd), consecutive sequence numbers (nextcloudcmd 3.7) or
        `<start>-<end>` byte ranges (rclone >= 1.63, vendor nextcloud), assembled by start offset;
        consecutive numbers concatenate the same way read as offsets or as a sequence."""
        folder = self._chunk_dir(upload_id)
        chunks = [(name, *parsed) for name, _, _ in _list_chunks(folder)
                  if (parsed := _parse_name(name)) is not None]
        ranged = [end is not None for _, _, end in chunks]
        if any(ranged) and not all(ranged):
            raise Conflict("chunk names mix byte ranges with offsets")
        starts = [start for _, start, _ in chunks]
        by_sequence = not any(ranged) and (
            not starts or starts == list(range(starts[0], starts[0] + len(starts))))
        expected = 0
        for name, start, end in chunks:
            if not by_sequence and start != expected:
                raise Conflict(f"chunk at offset {expected} is missing")
            written = 0
            with open(folder / name, "rb") as fh:
                while block := fh.read(_BLOCK):
                    temp.write(block)
                    written += len(block)
            if end is not None and end != start + written - 1:
                raise Conflict(f"chunk {name} holds {written} bytes, not its byte range")
            expected += written
        if total is not None and expected != total:
            raise Conflict(f"received {expected} of {total} bytes")
        digest: Digest = temp.finish()
        digest.verify(checksum)
        self._blobs.place(temp, blob_id)
        return digest


def _place_chunk(temp: Path, target: Path) -> None:
    os.replace(temp, target)
    _fsync_dir(target.parent)


def _parse_name(name: str) -> tuple[int, int | None] | None:
    """(start, end or None) of a chunk name, None if it is not one."""
    match = _CHUNK_NAME.fullmatch(name)
    if match is None:
        return None
    return int(match[1]), None if match[2] is None else int(match[2])


def _list_chunks(folder: Path) -> list[tuple[str, int, float]]:
    """(name, size, mtime) of the stored chunks, by start offset (or sequence number)."""
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        parsed = _parse_name(entry.name)
        if parsed is not None:
            st = entry.stat()
            found.append((parsed[0], entry.name, st.st_size, st.st_mtime))
    return [(name, size, mtime) for _, name, size, mtime in sorted(found)]
