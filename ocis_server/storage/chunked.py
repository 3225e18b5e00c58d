"""Chunking NG sessions (client-notes.md §3): chunks arrive in any order and in parallel, and are
assembled in order into a hashed blob at the final MOVE, committed through the same path as a PUT.
Mixed into SqliteStorage.

Layout of `uploads/<id>.chunks/`: a chunk that continues the ones before it (the common case: a
client sending its chunks one after another) is appended to `.joined` and listed in `.joined.idx`
(`<name> <offset in .joined> <size>` per line), hashed on the way like a TUS upload, so the final
MOVE links `.joined` as the blob without copying or re-reading it. Any other chunk (out of order,
sent in parallel, re-sent) is stored as its own file `<name>`, which wins over an indexed copy.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import AlreadyExists, BadRequest, Conflict, NotFound
from ocis_server.domain.ids import new_id

from . import ops
from .api import UploadResult, UploadSession
from .blobs import BlobStore, Digest, fsync_dir
from .diskspace import check_file_size
from .uploadio import (
    BLOCK,
    SESSION_COLUMNS,
    Blocks,
    RunningHashes,
    close_synced,
    hash_file,
    insert_session,
    open_at,
    remove_session,
    session_from_row,
)
from .writer import Tx

# A chunk's name: an offset or a sequence number, or a `<start>-<end>` byte range (both inclusive),
# each zero-padded (ASCII digits only: int() would take other scripts' digits).
_CHUNK_NAME = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
JOINED, INDEX = ".joined", ".joined.idx"


@dataclass(frozen=True, slots=True)
class _Chunk:
    name: str
    start: int            # parsed from the name: offset, sequence number or range start
    end: int | None       # range end (inclusive) for `<start>-<end>` names
    size: int
    mtime: float
    at: int | None        # offset in .joined, None for a chunk stored as its own file


class ChunkedUploads:
    """The chunking-NG half of the upload sessions (the TUS half is uploads.UploadSessions)."""

    storage_id: str
    _io: Any
    _blobs: BlobStore
    _read: Callable[..., Any]
    _write: Callable[..., Any]
    _commit_blob: Callable[..., Any]
    _in_io: Callable[..., Any]
    _chunk_dir: Callable[[str], Path]
    _upload_lock: Callable[[str], asyncio.Lock]
    _running: Callable[[], dict[str, RunningHashes]]
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
        if size is not None:
            check_file_size(size)
            await self._in_io(self._blobs.require_room, size)
        now = time.time()
        session = UploadSession(id=new_id(), kind="chunks", user_id=user_id, space_id="",
                                path=(), size=-1 if size is None else size, offset=0, mtime=None,
                                checksum=None, if_match=None, created=now,
                                expires=now + expires_in, transfer=transfer)

        def insert(tx: Tx) -> None:   # an expired one of the same name goes first
            tx.conn.execute("DELETE FROM uploads WHERE user_id = ? AND transfer = ?",
                            (user_id, transfer))
            insert_session(tx, session)
        await self._write(insert)
        await self._in_io(lambda: self._chunk_dir(session.id).mkdir(parents=True, exist_ok=True))
        return session

    async def find_chunked_upload(self, user_id: str, transfer: str) -> UploadSession:
        def query(conn: sqlite3.Connection) -> UploadSession:
            row = conn.execute(f"SELECT {SESSION_COLUMNS} FROM uploads"
                               " WHERE user_id = ? AND transfer = ?"
                               " AND kind = 'chunks'", (user_id, transfer)).fetchone()
            if row is None:
                raise NotFound("upload transfer not found")
            return session_from_row(row)
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
        lock = self._upload_lock(upload_id)
        if not lock.locked():    # acquiring a free asyncio lock does not yield: no race here
            async with lock:
                index = await self._in_io(_read_index, self._chunk_dir(upload_id))
                if _continues(index, start, end, name):
                    return await self._append_chunk(upload_id, index, name, start, end, body,
                                                    length)
        return await self._store_chunk(upload_id, name, start, end, body, length)

    async def _store_chunk(self, upload_id: str, name: str, start: int, end: int | None,
                           body: AsyncIterator[bytes], length: int | None) -> int:
        """A chunk as its own file: written to a temp name, then renamed over any earlier copy."""
        folder = self._chunk_dir(upload_id)
        temp = folder / f".{name}.{new_id()}.part"
        fd = await self._in_io(open_at, temp, 0)
        written, ok = 0, False
        try:
            written = await self._receive(fd, body, None)
            _check_size(name, start, end, written, length)
            ok = True
        finally:
            await asyncio.shield(self._in_io(close_synced, fd, written))
            if ok:
                await self._in_io(_place_chunk, temp, folder / name)
            else:
                await self._in_io(lambda: temp.unlink(missing_ok=True))
        return written

    async def _append_chunk(self, upload_id: str, index: list[_Chunk], name: str, start: int,
                            end: int | None, body: AsyncIterator[bytes],
                            length: int | None) -> int:
        """A chunk continuing the indexed ones: appended to .joined (hashed on the way), fsynced,
        then indexed. A failed chunk is cut off again: chunks are all or nothing."""
        folder = self._chunk_dir(upload_id)
        at = sum(c.size for c in index)
        running = self._running().get(upload_id)
        if running is None and at == 0:
            running = self._running()[upload_id] = RunningHashes(self._blobs.helper)
        elif running is not None and running.offset != at:
            running = None
            self._running().pop(upload_id, None)
        fd = await self._in_io(open_at, folder / JOINED, at)
        written, ok = 0, False
        try:
            written = await self._receive(fd, body, running)
            _check_size(name, start, end, written, length)
            ok = True
        finally:
            if not ok:
                self._running().pop(upload_id, None)   # it has seen bytes that are cut off
            await asyncio.shield(self._in_io(close_synced, fd, at + written if ok else at))
        await asyncio.shield(self._in_io(_index_chunk, folder, name, at, written))
        return written

    async def _receive(self, fd: int, body: AsyncIterator[bytes],
                       running: RunningHashes | None) -> int:
        """Write a request body at the descriptor's position (uploadio.Blocks): bytes written."""
        blocks = Blocks(self._io, fd, None, running, self._blobs.guard)
        try:
            await blocks.receive(body)
        finally:
            await blocks.settle()
        return blocks.written

    async def upload_chunks(self, upload_id: str) -> list[tuple[str, int, float]]:
        await self.get_upload(upload_id)
        chunks = await self._in_io(_list_chunks, self._chunk_dir(upload_id))
        return [(c.name, c.size, c.mtime) for c in chunks]

    def _chunk_bytes(self, upload_id: str) -> int:
        """Bytes received so far (blocking)."""
        return sum(c.size for c in _list_chunks(self._chunk_dir(upload_id)))

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
            chunks = await self._in_io(_ordered, self._chunk_dir(upload_id), total)
            blob_id = new_id()
            if _joined_whole(chunks):
                digest = await self._place_joined(upload_id, blob_id,
                                                  sum(c.size for c in chunks))
            else:
                digest = await self._place_assembled(upload_id, chunks, blob_id)
            try:
                digest.verify(checksum)
            except BaseException:
                await asyncio.shield(self._in_io(self._blobs.remove, [blob_id]))
                raise
            result: UploadResult = await self._commit_blob(
                space_id, parts, blob_id, digest, mtime, if_match, False,
                lambda tx: remove_session(tx, upload_id))
            await self._in_io(self._remove_files, upload_id)
        self._forget(upload_id)
        return result

    async def _place_joined(self, upload_id: str, blob_id: str, total: int) -> Digest:
        """Every chunk is in .joined, in order: it is the blob (a hard link, no copy); its
        hashes were computed on the way, or are computed now if the process restarted since."""
        joined = self._chunk_dir(upload_id) / JOINED
        running = self._running().get(upload_id)
        digest: Digest | None = None
        if running is not None and running.offset == total:
            digest = await self._in_io(running.digest)
        await self._in_io(_cut, joined, total)   # bytes of a chunk a crash left unindexed
        if digest is None:
            digest = await self._in_io(hash_file, joined)
        await self._in_io(self._blobs.adopt, joined, blob_id)
        return digest

    async def _place_assembled(self, upload_id: str, chunks: list[_Chunk], blob_id: str) -> Digest:
        """Concatenate the chunks (files or pieces of .joined) into a hashed temp blob."""
        temp = self._blobs.temp(blob_id)
        try:
            return await self._in_io(self._assemble, upload_id, chunks, temp, blob_id)  # type: ignore[no-any-return]
        except BaseException:
            await asyncio.shield(self._in_io(temp.discard))
            raise

    def _assemble(self, upload_id: str, chunks: list[_Chunk], temp: Any, blob_id: str) -> Digest:
        folder = self._chunk_dir(upload_id)
        for chunk in chunks:
            source = folder / (JOINED if chunk.at is not None else chunk.name)
            with open(source, "rb") as fh:
                fh.seek(chunk.at or 0)
                left = chunk.size
                while left and (block := fh.read(min(BLOCK, left))):
                    temp.write(block)
                    left -= len(block)
            if left:
                raise Conflict(f"chunk {chunk.name} is incomplete")
        digest: Digest = temp.finish()
        self._blobs.place(temp, blob_id)
        return digest


def _check_size(name: str, start: int, end: int | None, written: int, length: int | None) -> None:
    if length is not None and written != length:
        raise BadRequest("the body is shorter than the announced length")
    if end is not None and end != start + written - 1:
        raise BadRequest(f"chunk {name} holds {written} bytes, not its byte range")


def _continues(index: list[_Chunk], start: int, end: int | None, name: str) -> bool:
    """Whether a chunk follows the indexed ones: the next byte offset, or the next sequence
    number. A wrong guess costs speed only: the final MOVE orders chunks by their names."""
    if any(c.name == name for c in index):
        return False            # re-sent: stored as its own file, which wins
    if not index:
        return start == 0 or (end is None and start == 1)
    last, at = index[-1], sum(c.size for c in index)
    return start == at or (end is None and last.end is None and start == last.start + 1)


def _cut(path: Path, size: int) -> None:
    if path.stat().st_size != size:
        os.truncate(path, size)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def _place_chunk(temp: Path, target: Path) -> None:
    os.replace(temp, target)
    fsync_dir(target.parent)


def _index_chunk(folder: Path, name: str, at: int, size: int) -> None:
    """Append `<name> <at> <size>` to the index (after the data it names is durable)."""
    index = folder / INDEX
    with open(index, "ab") as fh:
        kept = _valid_length(index)
        if fh.tell() != kept:   # a line torn by a crash: drop it first
            fh.truncate(kept)
            fh.seek(kept)
        fh.write(f"{name} {at} {size}\n".encode())
        fh.flush()
        os.fsync(fh.fileno())


def _valid_length(index: Path) -> int:
    data = index.read_bytes()
    return data.rfind(b"\n") + 1


def _read_index(folder: Path) -> list[_Chunk]:
    """The chunks in .joined, in the order they were appended, as far as .joined holds them."""
    index = folder / INDEX
    try:
        lines = index.read_bytes().split(b"\n")[:-1]   # a torn last line has no newline
        mtime, held = index.stat().st_mtime, (folder / JOINED).stat().st_size
    except FileNotFoundError:
        return []
    chunks = []
    for line in lines:
        try:
            name, at, size = line.decode().split(" ")
            parsed, start, length = _parse_name(name), int(at), int(size)
        except ValueError:
            break
        if parsed is None or start + length > held:
            break
        chunks.append(_Chunk(name, parsed[0], parsed[1], length, mtime, start))
    return chunks


def _parse_name(name: str) -> tuple[int, int | None] | None:
    """(start, end or None) of a chunk name, None if it is not one."""
    match = _CHUNK_NAME.fullmatch(name)
    if match is None:
        return None
    return int(match[1]), None if match[2] is None else int(match[2])


def _list_chunks(folder: Path) -> list[_Chunk]:
    """Every chunk received, by start offset (or sequence number); a chunk stored as its own
    file replaces an indexed copy of the same name."""
    if not folder.is_dir():
        return []
    found = {c.name: c for c in _read_index(folder)}
    for entry in folder.iterdir():
        parsed = _parse_name(entry.name)
        if parsed is not None:
            st = entry.stat()
            found[entry.name] = _Chunk(entry.name, parsed[0], parsed[1], st.st_size, st.st_mtime,
                                       None)
    return sorted(found.values(), key=lambda c: (c.start, c.name))


def _ordered(folder: Path, total: int | None) -> list[_Chunk]:
    """The chunks in assembly order, checked complete. Chunk names are zero-padded offsets
    (owncloudcmd), consecutive sequence numbers (nextcloudcmd 3.7) or `<start>-<end>` byte
    ranges (rclone >= 1.63, vendor nextcloud), assembled by start offset; consecutive numbers
    concatenate the same way read as offsets or as a sequence."""
    chunks = _list_chunks(folder)
    ranged = [c.end is not None for c in chunks]
    if any(ranged) and not all(ranged):
        raise Conflict("chunk names mix byte ranges with offsets")
    starts = [c.start for c in chunks]
    by_sequence = not any(ranged) and (
        not starts or starts == list(range(starts[0], starts[0] + len(starts))))
    expected = 0
    for chunk in chunks:
        if not by_sequence and chunk.start != expected:
            raise Conflict(f"chunk at offset {expected} is missing")
        expected += chunk.size
    if total is not None and expected != total:
        raise Conflict(f"received {expected} of {total} bytes")
    return chunks


def _joined_whole(chunks: list[_Chunk]) -> bool:
    """Whether .joined holds exactly these chunks, in this order, from its first byte."""
    at = 0
    for chunk in chunks:
        if chunk.at != at:
            return False
        at += chunk.size
    return bool(chunks)
