"""The blob store: file contents on disk addressed by blob id only (never by a user path), written
to a temp file while hashing SHA1/MD5/ADLER32, renamed into place and fsynced (docs/decisions/0004-durability.md).
All methods here are blocking; the storage provider calls them from its I/O threads.

Layout: `blobs/<first two characters of the id>/<id>`, the 256 folders made when the store is set
up, so an upload never creates a folder. A temp file lives in the folder of the blob it becomes
(`put-<uuid>`): the rename stays inside one directory, and concurrent uploads do not queue on one
temp directory's lock. On ext2/3/4, `blobs/` carries the "top of hierarchy" flag (`chattr +T`):
the allocator spreads the 256 folders over block groups with free inodes instead of packing
them beside their parent, where other programs' recent deletions make each new inode slow to
find.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import hashlib
import logging
import os
import shutil
import struct
import threading
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import BadRequest, ChecksumMismatch

from .diskspace import DiskGuard

log = logging.getLogger("ocis.storage")

TEMP_PREFIX = "put-"
_FOLDERS = tuple(f"{i:02x}" for i in range(256))   # blob ids are UUIDs: lower-case hex first
_FOLDER_SET = frozenset(_FOLDERS)
CHECKSUM_ALGORITHMS = ("sha1", "md5", "adler32")
_PARALLEL_HASH_AT = 256 * 1024   # blocks from this size hash MD5 in the helper thread
_FLUSH_AT = 1 << 20  # hand at most ~1 MiB per thread hop: hashing and writing overlap receiving


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).sync_file_range
    except (OSError, AttributeError):   # not Linux/glibc: the final fsync does all the work
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return fn


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int) -> None:
    """Start writing a file's dirty pages to disk without waiting (Linux `sync_file_range`), so
    the fsync that makes a big upload durable finds most of it already written. Blocking only
    when the disk queue is full; never a durability promise by itself."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


@dataclass(frozen=True, slots=True)
class Digest:
    size: int
    sha1: str
    md5: str
    adler32: str

    def verify(self, checksum: tuple[str, str] | None) -> None:
        """Check a client checksum (`OC-Checksum: SHA1:<hex>`); algorithm names are case-insensitive."""
        if checksum is None:
            return
        algo, value = checksum[0].strip().lower(), checksum[1].strip().lower()
        ours = {"sha1": self.sha1, "md5": self.md5, "adler32": self.adler32}.get(algo)
        if ours is None:
            raise BadRequest(f"unsupported checksum algorithm {checksum[0]!r}")
        if ours != value:
            raise ChecksumMismatch("The computed checksum does not match the one received from the client.")


class TempBlob:
    """One upload in progress: a temp file plus running hashes. Not thread-safe; one writer.
    Written through a bare descriptor (`os.write`): a buffered file object costs three more
    system calls per file when opened (fstat, isatty, lseek), each a GIL release under load."""

    def __init__(self, path: Path | str, helper: Executor | None = None,
                 guard: DiskGuard | None = None) -> None:
        self.name = str(path)     # the temp file's path as a string (no Path per upload)
        self._helper = helper   # hashes MD5 of big blocks beside the write (never waits itself)
        self._guard = guard     # refuses a block that would eat into the free-space reserve
        self._fd = -1
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._adler = 1
        self.size = 0

    @property
    def path(self) -> Path:
        return Path(self.name)

    def _open(self) -> int:
        if self._fd < 0:
            self._fd = os.open(self.name, _TEMP_FLAGS, 0o666)
        return self._fd

    def write(self, data: bytes) -> None:
        if self._guard is not None:
            self._guard.require(len(data))
        fd = self._open()
        # hashlib releases the GIL on big blocks: MD5 (the slowest) runs on another core
        # while this thread writes and hashes SHA1 and ADLER32.
        md5 = (self._helper.submit(self._md5.update, data)
               if self._helper is not None and len(data) >= _PARALLEL_HASH_AT else None)
        try:
            _write_all(fd, data)
            if md5 is not None:   # a big block: start its writeback now, not all at the fsync
                start_writeback(fd)
            self._sha1.update(data)
            self._adler = zlib.adler32(data, self._adler)
        finally:
            if md5 is not None:
                md5.result()
        if md5 is None:
            self._md5.update(data)
        self.size += len(data)

    def finish(self) -> Digest:
        """The digest of what was written (nothing is buffered here); the file stays open
        until `BlobStore.place` makes it durable (or `discard` drops it)."""
        self._open()    # an empty upload is a real file
        return Digest(self.size, self._sha1.hexdigest(), self._md5.hexdigest(), f"{self._adler:08x}")

    def sync_and_close(self) -> None:
        """fsync the (finished) content and close the file."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def discard(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(self.name)
        except FileNotFoundError:
            pass


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class BlobStore:
    def __init__(self, root: Path, guard: DiskGuard | None = None) -> None:
        self.guard = guard
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        # Three: a TUS upload hashes in three chains (SHA1+ADLER32, MD5, the chunk checksum).
        self._hasher = ThreadPoolExecutor(3, thread_name_prefix="ocis-storage-hash")
        self._folders: set[Path] = set()   # blob folders known to exist (spares a mkdir each)
        self._root = str(self.blobs)
        self._made: set[str] = set()       # the same, by folder name (no Path per upload)
        # An open descriptor per blob folder, for the folder fsync that makes a rename durable
        # (spares an open and a close per upload); closed with the store.
        self._dir_fds: dict[str, int] = {}
        self._dir_lock = threading.Lock()

    @property
    def helper(self) -> Executor:
        """Threads that hash beside an I/O thread (hashlib releases the GIL on big blocks)."""
        return self._hasher

    def close(self) -> None:
        self._hasher.shutdown(wait=True)
        with self._dir_lock:
            fds, self._dir_fds = list(self._dir_fds.values()), {}
        for fd in fds:
            os.close(fd)

    def setup(self) -> None:
        """Make the folders, then one pass over them: temp files of uploads that were never
        acknowledged (crash, kill -9) are removed, and blobs of the older two-level layout
        (`ab/cd/<id>`) move to their folder."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        _spread_subfolders(self.blobs)     # before the folders are made
        for leftover in self.tmp.glob(TEMP_PREFIX + "*"):   # where older versions put them
            leftover.unlink(missing_ok=True)
        for name in _FOLDERS:
            folder = self.blobs / name
            folder.mkdir(exist_ok=True)
            self._folders.add(folder)
            _tidy(folder)

    def path(self, blob_id: str) -> Path:
        return blob_file(self.blobs, blob_id)

    def temp(self, blob_id: str | None = None) -> TempBlob:
        """A temp file in the folder of `blob_id` (the blob it will become), else any folder."""
        name = blob_id or str(uuid.uuid4())     # a blob id is new: unique already
        folder = name[0:2]
        if folder not in self._made:
            self._folder(self.blobs / folder)
            self._made.add(folder)
        return TempBlob(f"{self._root}/{folder}/{TEMP_PREFIX}{name}", self._hasher, self.guard)

    def place(self, temp: TempBlob, blob_id: str) -> None:
        """Move a finished temp file to its blob path, then make content and rename durable.
        The content is synced after the rename so one journal commit carries both (the
        directory sync then finds nothing left to do); the blob is not referenced by any node
        until the metadata commit that follows, so a crash in between leaves nothing visible."""
        folder = blob_id[0:2]
        if folder not in self._made:
            self._folder(self.blobs / folder)
            self._made.add(folder)
        os.rename(temp.name, f"{self._root}/{folder}/{blob_id}")
        temp.sync_and_close()
        self._sync_folder(folder)

    def _sync_folder(self, folder: str) -> None:
        """fsync a blob folder (its new names durable) through its kept descriptor."""
        fd = self._dir_fds.get(folder)
        if fd is None:
            if folder not in _FOLDER_SET:       # not one of the 256: no descriptor kept
                fsync_dir(self.blobs / folder)
                return
            with self._dir_lock:
                fd = self._dir_fds.get(folder)
                if fd is None:
                    fd = os.open(f"{self._root}/{folder}", os.O_RDONLY | os.O_DIRECTORY
                                 | getattr(os, "O_CLOEXEC", 0))
                    self._dir_fds[folder] = fd
        os.fsync(fd)

    def adopt(self, path: Path, blob_id: str) -> None:
        """Give a finished, durable file (a TUS or chunked upload's data) a blob id: a hard link
        into the blob's folder, made durable. The file keeps its own name until its owner
        removes it."""
        target = self.path(blob_id)
        self._folder(target.parent)
        os.link(path, target)
        fsync_dir(target.parent)

    def link(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Give each source blob a second id. Blobs are immutable, so a hard link is a copy."""
        dirs: set[Path] = set()
        for src_id, dst_id in pairs:
            src, dst = self.path(src_id), self.path(dst_id)
            self._folder(dst.parent)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
                with open(dst, "rb") as fh:
                    os.fsync(fh.fileno())
            dirs.add(dst.parent)
        for folder in dirs:
            fsync_dir(folder)

    def _folder(self, folder: Path) -> None:
        if folder not in self._folders:     # blob folders are never removed while we run
            folder.mkdir(parents=True, exist_ok=True)
            if len(self._folders) >= 1 << 17:
                self._folders.clear()
            self._folders.add(folder)

    def require_room(self, size: int) -> None:
        """InsufficientStorage (507) unless `size` more bytes leave the free-space reserve."""
        if self.guard is not None:
            self.guard.require(size)

    def remove(self, blob_ids: Iterable[str]) -> None:
        for blob_id in blob_ids:
            self.path(blob_id).unlink(missing_ok=True)

    def probe(self) -> None:
        """Raise if the data directory is not writable."""
        probe = self.tmp / f"probe-{uuid.uuid4()}"
        probe.write_bytes(b"ok")
        probe.unlink()


def blob_file(blobs: Path, blob_id: str) -> Path:
    """Where a blob lives below the `blobs` folder."""
    return blobs / blob_id[0:2] / blob_id


def _tidy(folder: Path) -> None:
    moved = False
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                os.unlink(entry.path)
            elif entry.is_dir(follow_symlinks=False):       # the two-level layout: ab/cd/<id>
                with os.scandir(entry.path) as old:
                    for blob in old:
                        os.rename(blob.path, folder / blob.name)
                os.rmdir(entry.path)
                moved = True
    if moved:
        fsync_dir(folder)


_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def _spread_subfolders(folder: Path) -> None:
    """Set the ext2/3/4 "top of directory hierarchy" flag (chattr +T) on `folder`, so that the
    Orlov allocator spreads its subfolders over the disk's block groups. Best effort: other
    file systems refuse the call, and nothing depends on it."""
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (ImportError, OSError):
        return
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf)
        flags = struct.unpack_from("i", buf)[0]
        if not flags & _FS_TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("l", flags | _FS_TOPDIR_FL))
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def receive(body: AsyncIterator[bytes], temp: TempBlob, io: Executor, length: int | None,
                  then: Callable[[Digest], None],
                  failed: Callable[[BaseException], None]) -> bytes | None:
    """Stream a request body into `temp`: chunks are buffered up to ~1 MiB and written+hashed in
    a thread while the next ones arrive. Enforces `length` exactly (fewer or more -> BadRequest).
    The last block, the digest and `then(digest)` (verify, place, queue the commit) run in one
    I/O-thread hop that is not awaited: the caller hears of the upload from its commit alone
    (one wake-up of the event loop per upload, not two). If that hop fails, the temp file is
    discarded there and `failed(error)` is called in the thread. Returns once the hop is
    submitted, with the whole body when it fitted in that last block (else None: the caller may
    keep a small one in memory); raising before that means nothing was submitted (the caller
    discards)."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[Any] | None = None
    buffer: list[bytes] = []
    buffered = received = 0
    try:
        async for chunk in body:
            if not chunk:
                continue
            received += len(chunk)
            if length is not None and received > length:
                raise BadRequest("the body is longer than the announced length")
            buffer.append(chunk)
            buffered += len(chunk)
            if buffered >= _FLUSH_AT:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(io, temp.write, b"".join(buffer))
                buffer, buffered = [], 0
        if length is not None and received < length:
            raise BadRequest("the body is shorter than the announced length")
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None and not pending.done():
            # Writes finish before the caller discards the file.
            await asyncio.shield(pending)
    tail = buffer[0] if len(buffer) == 1 else b"".join(buffer)

    def finish() -> None:
        try:
            if tail:
                temp.write(tail)
            then(temp.finish())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            try:
                temp.discard()
            except OSError as gone:    # e.g. a read-only folder: the caller must still hear
                log.warning("upload: temp file %s not removed: %s", temp.name, gone.strerror)
            finally:
                failed(exc)

    io.submit(finish)
    return bytes(tail) if received == len(tail) else None
