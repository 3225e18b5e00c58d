"""Bulk import of a folder tree into a space (`ocis storage-users import`, the million-file space of
scripts/bench_space_size.py). Each file becomes a blob and a node exactly as an upload makes them
(SHA1, MD5 and ADLER32 of the content, a node row whose etag derives from the change stamp, tree
sizes, tree mtimes and etags propagated up to the space root; a file already at a path becomes a
version, as a PUT over it would), but in big batches instead of one transaction and one fsync per
file:

1. an I/O thread writes the blobs of a batch (by default 20,000 files) straight to their place in
   the blob store, without an fsync each;
2. one `syncfs` makes the whole batch durable (the file system's journal commits them together);
3. one writer transaction inserts the batch's folders and nodes and propagates once per folder
   (every folder the batch touched and their ancestors: a new etag, the tree-size delta).

A node is never committed before its blob is on disk, so an interruption leaves at most orphan
blobs (`ocis backup consistency --repair` moves them to lost+found). No event is published: the
import is meant for a stopped server (runtime/maintenance.py refuses while one runs); clients see
the imported files through the new etags of the folders above them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import hashlib
import os
import stat
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import Conflict, InvalidName, NotFound, OcisError
from ocis_server.domain.ids import new_id
from ocis_server.domain.paths import check_depth, check_new_name, validate_name

from .blobs import BlobStore, Digest
from .diskspace import DiskGuard
from .ops import _INSERT_NODE, _write_file, check_quota
from .schema import child, make_etag, walk
from .writer import Tx

BATCH = 20_000
_BLOCK = 1 << 20
_GUARD_EVERY, _SMALL = 256, 64 * 1024   # the free-space reserve is checked every 256 files
_INSERT_NEW = _INSERT_NODE + " ON CONFLICT(parent_id, name) DO NOTHING"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item to import: `parts` below the import target; a file's content is `data`, or read
    from `source`; `mtime` is kept as a client's X-OC-Mtime would be."""
    parts: tuple[str, ...]
    is_dir: bool = False
    data: bytes | None = None
    source: Path | None = None
    mtime: float | None = None


@dataclass(slots=True)
class ImportStats:
    files: int = 0
    folders: int = 0          # folders created
    bytes: int = 0
    replaced: int = 0         # files that were already there (their old content is a version)
    skipped: list[str] = field(default_factory=list)    # "path: why", one per item left out
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"files": self.files, "folders": self.folders, "bytes": self.bytes,
                "replaced": self.replaced, "skipped": self.skipped,
                "seconds": round(self.seconds, 3),
                "files_per_second": round(self.files / self.seconds) if self.seconds else 0}


@dataclass(frozen=True, slots=True)
class _Blob:
    entry: Entry
    blob_id: str
    digest: Digest
    mtime: float | None


def _path(parts: Sequence[str]) -> str:
    return "/" + "/".join(parts)


def walk_folder(source: Path, skipped: list[str]) -> Iterator[Entry]:
    """A local folder tree as entries, folders before what they hold, names sorted; symlinks,
    special files and names the storage does not take are left out (noted in `skipped`)."""
    stack: list[tuple[Path, tuple[str, ...]]] = [(source, ())]
    while stack:
        folder, parts = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            skipped.append(f"{_path(parts)}: cannot be read ({exc.strerror})")
            continue
        subfolders = []
        for name in names:
            here, rel = folder / name, (*parts, name)
            why = _bad_name(name)
            st = os.lstat(here)
            if why is None and not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                why = "not a regular file or folder"
            if why is not None:
                skipped.append(f"{_path(rel)!r}: {why}")
            elif stat.S_ISDIR(st.st_mode):
                yield Entry(rel, is_dir=True)
                subfolders.append((here, rel))
            else:
                yield Entry(rel, source=here, mtime=st.st_mtime)
        stack.extend(reversed(subfolders))


def _bad_name(name: str) -> str | None:
    try:
        name.encode("utf-8")
        validate_name(name)
        check_new_name(name)
    except UnicodeEncodeError:
        return "the name is not UTF-8"
    except InvalidName as exc:
        return exc.message
    return None


# --- blobs (I/O thread) ---------------------------------------------------------------------

def _write_blob(folder: str, entry: Entry, guard: DiskGuard | None) -> _Blob:
    """The content into a new blob below `folder` (the blob store's, as a string: no Path per
    file), hashed on the way; no fsync (the batch is synced at once). `guard`: checked per
    block of a big file (the batch checks the small ones)."""
    blob_id = new_id()
    sha1, md5 = hashlib.sha1(usedforsecurity=False), hashlib.md5(usedforsecurity=False)
    adler, size = 1, 0
    path = f"{folder}/{blob_id[0:2]}/{blob_id}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        chunks: Iterable[bytes] = ((entry.data,) if entry.data is not None
                                   else _read_blocks(entry.source))
        for data in chunks:
            if guard is not None and len(data) >= _BLOCK:
                guard.require(len(data))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            sha1.update(data)
            md5.update(data)
            adler = zlib.adler32(data, adler)
            size += len(data)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return _Blob(entry, blob_id, Digest(size, sha1.hexdigest(), md5.hexdigest(), f"{adler:08x}"),
                 entry.mtime)


def _read_blocks(source: Path | None) -> Iterator[bytes]:
    if source is None:
        return
    with open(source, "rb") as fh:
        while block := fh.read(_BLOCK):
            yield block


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


_SYNCFS = _load_syncfs()


def flush(folder: Path) -> None:
    """Make everything written to `folder`'s file system durable: one `syncfs` (Linux), else
    `sync`."""
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs failed")
    finally:
        os.close(fd)


# --- metadata (writer thread) -----------------------------------------------------------------

class Folders:
    """Folder ids by path below the space root, and each one's parent, as the import makes or
    finds them (valid while every batch commits: the import stops at the first failure)."""

    def __init__(self, storage_id: str, space_id: str) -> None:
        self.storage_id, self.space_id = storage_id, space_id
        self.ids: dict[tuple[str, ...], str] = {}
        self.parent: dict[str, str | None] = {}

    def resolve(self, tx: Tx, parts: tuple[str, ...], created: list[str]) -> str:
        """The id of the folder at `parts`, made (with its missing parents) if need be."""
        found = self.ids.get(parts)
        if found is not None:
            return found
        if not parts:
            root = walk(tx.conn, self.space_id, (), self.storage_id)
            self.ids[()], self.parent[root.id] = root.id, None
            return root.id
        parent_id = self.resolve(tx, parts[:-1], created)
        existing = child(tx.conn, parent_id, parts[-1], self.storage_id)
        if existing is not None and not existing.is_dir:
            raise Conflict(f"a file is where the folder {_path(parts)} goes")
        if existing is not None:
            node_id = existing.id
        else:
            node_id = new_id()
            tx.conn.execute(_INSERT_NODE, (node_id, self.space_id, parent_id, parts[-1], 1, 0, 0,
                                           tx.stamp / 1e9, tx.stamp, make_etag(node_id, tx.stamp),
                                           None, None, None, None))
            created.append(node_id)
        self.ids[parts], self.parent[node_id] = node_id, parent_id
        return node_id


def commit_batch(tx: Tx, folders: Folders, target: tuple[str, ...],
                 blobs: list[_Blob], dirs: list[Entry]) -> tuple[ImportStats, list[str]]:
    """Folders and nodes of one batch, then one propagation per folder touched: (what was
    imported, blobs to remove because their file was left out)."""
    stats, created, unused = ImportStats(), list[str](), list[str]()
    delta: dict[str, int] = {}
    for entry in dirs:
        delta.setdefault(folders.resolve(tx, (*target, *entry.parts), created), 0)
    sums_of: Callable[[Digest], tuple[str, str, str]] = lambda d: (d.sha1, d.md5, d.adler32)
    for blob in blobs:
        parts = (*target, *blob.entry.parts)
        parent_id = folders.resolve(tx, parts[:-1], created)
        size, stamp = blob.digest.size, tx.stamp
        node_id = new_id()
        cur = tx.conn.execute(_INSERT_NEW, (
            node_id, folders.space_id, parent_id, parts[-1], 0, size, size,
            blob.mtime if blob.mtime is not None else stamp / 1e9, stamp,
            make_etag(node_id, stamp), *sums_of(blob.digest), blob.blob_id))
        if cur.rowcount == 1:
            grown = size
        else:
            old = child(tx.conn, parent_id, parts[-1], folders.storage_id)
            if old is None or old.is_dir:
                stats.skipped.append(f"{_path(blob.entry.parts)!r}: a folder is at this path")
                unused.append(blob.blob_id)
                continue
            _write_file(tx, folders.space_id, parent_id, parts[-1], old, blob.blob_id,
                        blob.digest, blob.mtime)
            grown, stats.replaced = size - old.size, stats.replaced + 1
        delta[parent_id] = delta.get(parent_id, 0) + grown
        stats.files, stats.bytes = stats.files + 1, stats.bytes + size
    _propagate(tx, folders, delta)
    stats.folders = len(created)
    return stats, unused


def _propagate(tx: Tx, folders: Folders, delta: dict[str, int]) -> None:
    """Every folder the batch touched and all their ancestors: the size delta below each, a new
    tree mtime and etag (what ops.propagate does per upload, once per folder here)."""
    total: dict[str, int] = {}
    for folder_id, grown in delta.items():
        current: str | None = folder_id
        while current is not None:
            total[current] = total.get(current, 0) + grown
            current = folders.parent[current]
    check_quota(tx.conn, folders.space_id, sum(delta.values()))
    stamp = tx.stamp
    tx.conn.executemany(
        "UPDATE nodes SET tree_size = tree_size + ?, tmtime = ?, mtime = ?, etag = ? WHERE id = ?",
        [(grown, stamp, stamp / 1e9, make_etag(fid, stamp), fid) for fid, grown in total.items()])


# --- the import ---------------------------------------------------------------------------------

class BulkImport:
    """Mixed into SqliteStorage: `import_tree`."""

    root: Path
    storage_id: str
    _blobs: BlobStore
    _write: Callable[..., Any]
    _in_io: Callable[..., Any]

    async def import_tree(self, space_id: str, target: Sequence[str], entries: Iterable[Entry], *,
                          batch: int = BATCH,
                          progress: Callable[[ImportStats], None] | None = None) -> ImportStats:
        """Import `entries` below the folder `target` of a space (made if missing). Stops at the
        first error (a batch's transaction is undone, its blobs removed; earlier batches stay)."""
        started = time.monotonic()
        stats = ImportStats()
        folders = Folders(self.storage_id, space_id)
        target = tuple(target)
        source = iter(entries)
        await self._write(lambda tx: folders.resolve(tx, target, []))   # NotFound, Conflict early
        # The blobs of the next batch are written while the writer commits the last one.
        pending: asyncio.Future[tuple[ImportStats, list[str]]] | None = None
        try:
            while True:
                written: tuple[int, list[_Blob], list[Entry], list[str]] = await self._in_io(
                    self._write_batch, source, batch, target)
                taken, blobs, dirs, bad = written
                stats.skipped += bad
                if taken:
                    await self._in_io(flush, self._blobs.blobs)
                if pending is not None:
                    await self._settle(pending, stats, started, progress)
                    pending = None
                if not taken:
                    break
                ids = [b.blob_id for b in blobs]
                pending = asyncio.ensure_future(self._write(
                    commit_batch, folders, target, blobs, dirs,
                    undo=lambda ids=ids: self._blobs.remove(ids)))
        finally:
            if pending is not None:          # an error while the last commit runs: let it end
                await asyncio.wait([pending])
        stats.seconds = time.monotonic() - started
        return stats

    async def _settle(self, pending: asyncio.Future[tuple[ImportStats, list[str]]],
                      stats: ImportStats, started: float,
                      progress: Callable[[ImportStats], None] | None) -> None:
        done, unused = await pending
        if unused:
            await self._in_io(self._blobs.remove, unused)
        stats.files += done.files
        stats.folders += done.folders
        stats.bytes += done.bytes
        stats.replaced += done.replaced
        stats.skipped += done.skipped
        stats.seconds = time.monotonic() - started
        if progress is not None:
            progress(stats)

    def _write_batch(self, source: Iterator[Entry], count: int, target: tuple[str, ...]
                     ) -> tuple[int, list[_Blob], list[Entry], list[str]]:
        """Up to `count` entries: blobs written (not synced), folders, items left out."""
        taken, blobs, dirs, bad = 0, [], [], []
        folder, guard = str(self._blobs.blobs), self._blobs.guard
        for entry in islice(source, count):
            taken += 1
            if guard is not None and taken % _GUARD_EVERY == 1:
                guard.require(_GUARD_EVERY * _SMALL)    # room for the next small files
            try:
                check_depth((*target, *entry.parts))
                if entry.is_dir:
                    dirs.append(entry)
                else:
                    blobs.append(_write_blob(folder, entry, guard))
            except (InvalidName, NotFound, FileNotFoundError) as exc:
                why = exc.message if isinstance(exc, OcisError) else "vanished while importing"
                bad.append(f"{_path(entry.parts)!r}: {why}")
            except BaseException:
                self._blobs.remove([b.blob_id for b in blobs])
                raise
        return taken, blobs, dirs, bad

