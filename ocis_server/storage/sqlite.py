"""`SqliteStorage`: the default storage provider. Metadata in one SQLite database (WAL, one writer
thread, a small pool of reader threads), contents in the id-addressed blob store.
The event loop only awaits: every query and file operation runs in a thread; reads clients repeat
(lookups, listings, locks) are answered from memory until the next commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ocis_server.domain.errors import BadRequest, NotFound, disk_full_error
from ocis_server.domain.ids import new_id
from ocis_server.events import ACTOR, Event

from . import changes as recorded
from . import ops, trash, versions
from .api import LockRecord, Node, Space, TrashItem, UploadResult, Version
from .bulkimport import BulkImport
from .blobs import CHECKSUM_ALGORITHMS, BlobStore, Digest, TempBlob, receive
from .chunked import ChunkedUploads
from .database import connect, connect_read_only, database_error, open_checked
from .diskspace import DiskGuard, check_file_size
from .links import LinkStore
from .listing import PagedListing
from .nodemeta import PropsAndLocks
from .invites import InviteStore
from .ocmshares import OcmShareStore
from .remotelinks import RemoteLinkStore
from .remoteshares import RemoteShareStore
from .schema import (
    NODE_COLS,
    NODE_FROM,
    SCHEMA,
    SPACE_SELECT,
    get_node,
    node_from_row,
    node_path,
    space_from_row,
    walk,
)
from .search import NodeSearch
from .shares import ShareStore
from .uploads import UploadSessions
from .usersettings import UserSettingsStore
from .writer import Tx, Writer

T = TypeVar("T")
log = logging.getLogger(__name__)
_READERS = 3
_IO_THREADS = 4
_CACHE_WEIGHT = 30_000   # cached results (a listing counts per entry); cleared by every commit
_PRECHECK_ABOVE = 64 * 1024   # uploads up to this size are only checked at commit
_SMALL_BLOB = 64 * 1024             # blobs up to this size may be kept in memory ...
_SMALL_CACHE_BYTES = 8 * 1024 * 1024   # ... up to this many bytes in all


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _outcome_ignored(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()    # retrieved: no "never retrieved" warning for an abandoned upload


class SqliteStorage(PagedListing,
                    UploadSessions, ChunkedUploads, ShareStore, RemoteShareStore, OcmShareStore,
                    LinkStore, PropsAndLocks, NodeSearch, UserSettingsStore, InviteStore,
                    RemoteLinkStore, BulkImport):
    """Implements `storage.api.Storage`. Create with `await SqliteStorage.open(root, storage_id)`."""

    def __init__(self, root: Path, storage_id: str, free_space_reserve: int = 0) -> None:
        self.root = root
        self.storage_id = storage_id
        self.personal_quota = 0     # quota of a new personal space (0 = unlimited)
        self.read_only = False      # opened on a read-only data folder: every write answers 503
        self.disk_full = False      # the last check found the data disk full (uploads get 507)
        self._db_path = root / "metadata.db"
        self._guard = DiskGuard(root, free_space_reserve)
        self._blobs = BlobStore(root, self._guard)
        self._io = ThreadPoolExecutor(_IO_THREADS, thread_name_prefix="ocis-storage-io")
        self._local = threading.local()
        self._readers_lock = threading.Lock()
        self._reader_conns: list[sqlite3.Connection] = []
        self._read_pool = ThreadPoolExecutor(_READERS, thread_name_prefix="ocis-storage-read")
        self._writer: Writer | None = None
        # Results of metadata reads, valid while no transaction has committed since (a poll or a
        # GET then costs no thread hop). Cleared whenever the writer's generation moves.
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._cache_gen = -1
        self._cache_weight = 0
        self._flights: dict[tuple[Any, ...], asyncio.Future[Any]] = {}   # reads in progress
        self._lock_cache: dict[tuple[Any, ...], list[LockRecord]] = {}
        self._lock_gen = 0
        # What only space changes (create, update, delete, membership) alter: the spaces' names,
        # types, owners and quotas, and their members. Kept across other commits, so an access
        # check costs no thread hop; cleared by `_space_write`.
        self._space_cache: dict[tuple[str, str], Any] = {}
        self._space_gen = 0
        self._small: OrderedDict[str, bytes] = OrderedDict()   # blob id -> content
        self._small_bytes = 0

    @classmethod
    async def open(cls, root: Path, storage_id: str, *, free_space_reserve: int = 0,
                   personal_quota: int = 0, read_only: bool = False,
                   database_url: str = "") -> SqliteStorage:
        """`free_space_reserve`: bytes of the data disk uploads must leave free (507 otherwise);
        `personal_quota`: the quota a new personal space gets (0 = unlimited); `read_only`: the
        data folder takes no writes: nothing is created or tidied, every write answers 503;
        `database_url` (OCIS_DATABASE_URL): settings values and signing keys in PostgreSQL."""
        self = cls(Path(root), storage_id, free_space_reserve)
        if database_url:
            from .pgusersettings import PostgresUserRecords      # psycopg only when configured

            self._user_records = PostgresUserRecords(database_url)
        self.personal_quota = max(0, personal_quota)
        self.read_only = read_only
        setup = self._setup_read_only if read_only else self._setup
        conn, last_stamp = await asyncio.to_thread(setup)
        self._writer = Writer(conn, self._io, last_stamp, self._guard.release_ballast)
        return self

    def _setup(self) -> tuple[sqlite3.Connection, int]:
        self.root.mkdir(parents=True, exist_ok=True)
        self._guard.open_room()      # a full disk: the database must still open for reads
        self._blobs.setup()
        conn = open_checked(self._db_path)   # a damaged database is never written to
        try:
            conn.executescript(SCHEMA)
        except BaseException:
            conn.close()
            raise
        last = conn.execute("SELECT coalesce(max(tmtime), 0) FROM nodes").fetchone()[0]
        self._guard.lay_ballast()
        return conn, int(last)

    def _setup_read_only(self) -> tuple[sqlite3.Connection, int]:
        conn = connect_read_only(self._db_path)
        last = conn.execute("SELECT coalesce(max(tmtime), 0) FROM nodes").fetchone()[0]
        return conn, int(last)

    async def close(self) -> None:
        records, self._user_records = self._user_records, None
        if records is not None:
            await records.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.to_thread(writer.close)
            await asyncio.to_thread(self._shutdown, writer)

    def _shutdown(self, writer: Writer) -> None:
        self._read_pool.shutdown(wait=True)
        self._io.shutdown(wait=True)
        self._blobs.close()
        with self._readers_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        writer.close_connection()

    async def used_bytes(self) -> int:
        """Bytes the spaces hold (the tree sizes of their roots; trash and versions not counted):
        what a `StorageRouter` places new spaces by."""
        row = await self._read(lambda conn: conn.execute(
            "SELECT coalesce(sum(r.tree_size), 0) FROM spaces s JOIN nodes r ON r.id = s.id"
        ).fetchone())
        return int(row[0])

    async def check(self) -> None:
        if self._writer is None or not self._writer.alive:
            raise RuntimeError("storage writer is not running")
        await self._read(lambda conn: conn.execute("SELECT count(*) FROM spaces").fetchone())
        if not self.read_only:
            await asyncio.get_running_loop().run_in_executor(self._io, self._probe)

    def _probe(self) -> None:
        """The data folder takes writes, or only lacks room: a full disk is not a failure of
        the storage (reads, deletes and purges go on; writes answer 507). Once there is room
        again the ballast is laid again."""
        try:
            self._blobs.probe()
        except OSError as exc:
            if disk_full_error(exc) is None:
                raise
            if not self.disk_full:
                log.warning("the data disk is full: uploads answer 507 until space is freed")
            self.disk_full = True
            return
        # Full for the operator too: no room to lay the delete ballast again (it was given up
        # to a delete on the full disk, or never fit), or below the free-space reserve, where
        # every upload answers 507.
        laid = self._guard.lay_ballast()
        self.disk_full = not laid or self._guard.left_for_uploads() <= 0 < self._guard.reserve

    # --- plumbing ---------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = (connect_read_only(self._db_path) if self.read_only
                    else connect(self._db_path, readonly=True))
            self._local.conn = conn
            with self._readers_lock:
                self._reader_conns.append(conn)
        return conn

    @property
    def change_stamp(self) -> tuple[int, int, int]:
        """Differs after every commit (and every space or lock change): what a cached rendering
        of stored state is keyed by."""
        writer = self._writer
        return (-1 if writer is None else writer.generation, self._space_gen, self._lock_gen)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._writer is None:
            raise RuntimeError("storage is closed")
        call = functools.partial(fn, *args)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._read_pool, lambda: call(self._reader()))
        except sqlite3.Error as exc:     # locked by another process, damaged: 503
            error = database_error(exc)
            if error is exc:
                raise
            raise error from None

    async def _cached(self, key: tuple[Any, ...], fn: Callable[[sqlite3.Connection], T],
                      weight: Callable[[T], int] | None = None) -> T:
        """`_read(fn)`, remembered under `key` until the next commit. Only successful results are
        kept, and only when no commit happened while reading (the result may be older then).
        `weight(value)` is what the entry costs of the cache budget (default 1; a listing
        counts its entries)."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("storage is closed")
        self._drop_stale_reads()
        generation = writer.generation
        try:
            return self._cache[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        # Concurrent misses of one key share one read (single flight): twenty PROPFINDs of a
        # 10k folder right after a change build one listing, not twenty. Shielded: a caller
        # that goes away does not cancel the read the others wait for.
        flight_key = (generation, key)
        flight = self._flights.get(flight_key)
        if flight is None:
            flight = asyncio.ensure_future(self._read(fn))
            self._flights[flight_key] = flight
            flight.add_done_callback(lambda _f: self._flights.pop(flight_key, None))
            flight.add_done_callback(_outcome_ignored)
        value: T = await asyncio.shield(flight)
        cost = 1 if weight is None else weight(value)
        if (writer.generation == generation == self._cache_gen
                and self._cache_weight + cost <= _CACHE_WEIGHT):
            self._cache[key] = value
            self._cache_weight += cost
        return value

    async def _lock_write(self, fn: Callable[..., T], *args: Any, frees: bool = False) -> T:
        """`_write` for the changes that can add or remove locks (every write that touches the
        locks table, directly or via remove_locks_below or remove_subtree): forgets the cached lock
        queries once the change is done."""
        return await self._forgetting_write(self._forget_locks, fn, *args, frees=frees)

    async def _space_write(self, fn: Callable[..., T], *args: Any) -> T:
        """`_write` for the changes to the spaces and members tables: forgets `_space_cache`."""
        return await self._forgetting_write(self._forget_spaces, fn, *args)

    async def _forgetting_write(self, forget: Callable[[object], None], fn: Callable[..., T],
                                *args: Any, frees: bool = False) -> T:
        # `forget` runs once the change is done, before its caller hears of it; a cancelled
        # caller does not stop the change, so the task is shielded and forgets on its own.
        change = asyncio.ensure_future(self._write(fn, *args, frees=frees))
        change.add_done_callback(forget)
        return await asyncio.shield(change)

    def _forget_locks(self, _done: object = None) -> None:
        self._lock_gen += 1
        self._lock_cache.clear()

    def forget_cached(self) -> None:
        """Another process committed to this database (the workers of one node,
        runtime/freshness.py): every cached read, the change stamp and the space and lock
        caches move on. Runs on the event loop, which fills the caches: no fill interleaves."""
        writer = self._writer
        if writer is not None:
            writer.generation += 1
        self._drop_stale_reads()
        self._forget_spaces()
        self._forget_locks()

    def _forget_spaces(self, _done: object = None) -> None:
        self._space_gen += 1
        self._space_cache.clear()

    async def _space_cached(self, key: tuple[str, str], read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, remembered under `key` until the next space change (`_space_write`); kept
        only when no space change finished while reading."""
        try:
            return self._space_cache[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        generation = self._space_gen
        value = await read()
        if generation == self._space_gen:
            if len(self._space_cache) >= _CACHE_WEIGHT // 8:
                self._space_cache.clear()
            self._space_cache[key] = value
        return value

    def publish_to(self, publish: Callable[[list[Event]], None] | None) -> None:
        """Hand the events of committed changes to `publish` (the event bus; writer.py)."""
        if self._writer is not None:
            self._writer.publish = publish

    async def _write(self, fn: Callable[..., T], *args: Any, frees: bool = False,
                     undo: Callable[[], None] | None = None) -> T:
        """`fn(tx, *args)` in the writer; `frees`: a delete or purge (on a full disk it may use
        the ballast's room); `undo`: removes a blob made for the change if it fails (writer.py)."""
        if self._writer is None:
            raise RuntimeError("storage is closed")
        try:
            return await self._writer.submit(fn, *args, frees=frees, undo=undo)
        finally:
            self._drop_stale_reads()

    def _drop_stale_reads(self) -> None:
        """Free the cached reads a commit made stale at once, not with the next cached read: a
        cached 10,000-entry listing is about 9 MiB, and the next read may be far off (an upload
        of a large file after a PROPFIND reads nothing through the cache; issue 18, memory)."""
        writer = self._writer
        if writer is not None and writer.generation != self._cache_gen:
            self._cache.clear()
            self._cache_gen = writer.generation
            self._cache_weight = 0

    # --- spaces -----------------------------------------------------------------------------

    async def create_space(self, *, space_type: str, name: str, owner_id: str, alias: str,
                           space_id: str | None = None, quota_total: int = 0,
                           description: str = "") -> Space:
        if space_type == "personal" and not quota_total:
            quota_total = self.personal_quota
        return await self._space_write(recorded.create_space, self.storage_id, space_id or new_id(),
                                       space_type, name, alias, owner_id, quota_total, description)

    async def get_space(self, space_id: str) -> Space:
        return await self._cached(("space", space_id), lambda conn: ops.get_space(conn, space_id))

    async def space_info(self, space_id: str) -> Space:
        """`get_space` for access checks: name, type, owner, quota and state are current, while
        `used`, `etag` and `mtime` may be older than the last commits (read `get_space` for
        those). Costs no query while no space changes."""
        return await self._space_cached(("space", space_id), lambda: self.get_space(space_id))

    async def list_spaces(self, *, member_id: str | None = None) -> list[Space]:
        def query(conn: sqlite3.Connection) -> list[Space]:
            if member_id is None:
                rows = conn.execute(f"{SPACE_SELECT} ORDER BY s.type, s.name").fetchall()
            else:
                rows = conn.execute(
                    f"{SPACE_SELECT} WHERE (s.type = 'personal' AND s.owner_id = ?) OR s.id IN"
                    " (SELECT space_id FROM members WHERE principal_id = ?) ORDER BY s.type, s.name",
                    (member_id, member_id)).fetchall()
            return [space_from_row(r) for r in rows]
        return await self._read(query)

    async def update_space(self, space_id: str, *, name: str | None = None,
                           description: str | None = None, quota_total: int | None = None,
                           alias: str | None = None, disabled: bool | None = None) -> Space:
        changes: dict[str, object] = {key: value for key, value in (
            ("name", name), ("description", description), ("quota_total", quota_total),
            ("alias", alias), ("disabled", None if disabled is None else int(disabled)))
            if value is not None}
        return await self._space_write(recorded.update_space, space_id, changes)

    async def delete_space(self, space_id: str) -> None:
        def forget(_done: object) -> None:
            self._forget_locks()
            self._forget_spaces()
        await self._forgetting_write(forget, recorded.delete_space, self.storage_id, self._blobs,
                                     space_id, frees=True)

    async def set_member(self, space_id: str, principal_id: str, role: str | None, *,
                         keep_manager: bool = False, expires: float | None = None) -> None:
        await self._space_write(ops.set_member, space_id, principal_id, role, keep_manager,
                                expires)

    async def _member_rows(self, space_id: str) -> list[tuple[str, str, float | None]]:
        def query(conn: sqlite3.Connection) -> list[tuple[str, str, float | None]]:
            ops.get_space(conn, space_id)
            rows = conn.execute(
                "SELECT m.principal_id, m.role, e.expires FROM members m LEFT JOIN member_expiry e"
                " ON e.space_id = m.space_id AND e.principal_id = m.principal_id"
                " WHERE m.space_id = ?", (space_id,)).fetchall()
            return [(str(p), str(r), None if e is None else float(e)) for p, r, e in rows]
        return list(await self._space_cached(("members", space_id),
                                             lambda: self._read(query)))

    async def members(self, space_id: str) -> dict[str, str]:
        # Expiry is applied after the cache: a cached listing never outlives a membership.
        now = time.time()
        return {p: r for p, r, e in await self._member_rows(space_id) if e is None or e > now}

    async def member_expirations(self, space_id: str) -> dict[str, float]:
        now = time.time()
        return {p: e for p, _, e in await self._member_rows(space_id) if e is not None and e > now}

    # --- tree -------------------------------------------------------------------------------

    async def lookup(self, space_id: str, path: Sequence[str]) -> Node:
        parts = tuple(path)
        return await self._cached(("lookup", space_id, parts),
                                  lambda conn: walk(conn, space_id, parts, self.storage_id))

    async def get_node(self, node_id: str) -> Node:
        return await self._cached(("node", node_id),
                                  lambda conn: get_node(conn, node_id, self.storage_id))

    async def node_path(self, node: Node) -> tuple[str, ...]:
        return await self._cached(("path", node.id), lambda conn: node_path(conn, node.id))

    async def children(self, node: Node) -> list[Node]:
        """One indexed query, every column a PROPFIND needs, sorted by name."""
        def query(conn: sqlite3.Connection) -> list[Node]:
            rows = conn.execute(f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.parent_id = ?"
                                " ORDER BY n.name", (node.id,)).fetchall()
            return [node_from_row(r, self.storage_id) for r in rows]
        if not node.is_dir:
            return []
        # Keyed by id and etag: a folder's etag changes with anything below it.
        cached: list[Node] = await self._cached(("children", node.id, node.etag), query, len)
        return list(cached)

    async def mkdir(self, space_id: str, path: Sequence[str]) -> Node:
        return await self._write(recorded.mkdir, self.storage_id, space_id, tuple(path))

    async def upload(self, space_id: str, path: Sequence[str], body: AsyncIterator[bytes], *,
                     length: int | None = None, mtime: float | None = None,
                     if_match: str | None = None, if_none_match_any: bool = False,
                     checksum: tuple[str, str] | None = None) -> UploadResult:
        parts = tuple(path)
        if checksum is not None and checksum[0].strip().lower() not in CHECKSUM_ALGORITHMS:
            raise BadRequest(f"unsupported checksum algorithm {checksum[0]!r}")
        if length is not None:
            check_file_size(length)
            if length > _PRECHECK_ABOVE:
                await asyncio.get_running_loop().run_in_executor(
                    self._io, self._blobs.require_room, length)
        # Cheap rejection before any byte is stored; the writer checks everything again, so a
        # small body skips it (storing a few KiB costs less than the extra query).
        if length is None or length > _PRECHECK_ABOVE:
            await self._read(lambda conn: ops.check_upload(
                conn, self.storage_id, space_id, parts, if_match=if_match,
                if_none_match_any=if_none_match_any, size=length))
        blob_id = new_id()
        temp = self._blobs.temp(blob_id)
        writer = self._writer
        if writer is None:
            raise RuntimeError("storage is closed")
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[tuple[Node, bool]] = loop.create_future()
        actor = ACTOR.get()     # the commit is queued from an I/O thread, outside this context

        def verify_place_and_commit(digest: Digest) -> None:
            # In the I/O thread: the blob is durable, so its commit is queued from here.
            digest.verify(checksum)
            self._blobs.place(temp, blob_id)
            writer.enqueue(committed, self._commit_job(space_id, parts, blob_id, digest, mtime,
                                                       if_match, if_none_match_any),
                           undo=functools.partial(self._blobs.remove, [blob_id]), actor=actor)

        def failed(exc: BaseException) -> None:    # in the I/O thread; temp is discarded
            with contextlib.suppress(OSError):   # placed before a failed sync or enqueue
                self._blobs.remove([blob_id])
            try:
                loop.call_soon_threadsafe(_fail, committed, exc)
            except RuntimeError:     # the loop is gone: nobody waits for this upload
                pass

        try:
            whole = await receive(body, temp, self._io, length, verify_place_and_commit, failed)
        except BaseException:
            # Nothing was handed to the I/O thread's last hop: discard here.
            self._io.submit(self._discard, temp, blob_id)
            raise
        try:
            node, created = await committed
        except asyncio.CancelledError:   # cancelled after the last byte: the upload goes on
            committed.add_done_callback(_outcome_ignored)
            raise
        if whole is not None:      # write-through: the first GET of a new small file reads no disk
            self._keep_small(blob_id, whole)
        return UploadResult(node, created)

    def _commit_job(self, space_id: str, parts: tuple[str, ...], blob_id: str, digest: Digest,
                    mtime: float | None, if_match: str | None, if_none_match_any: bool,
                    also: Callable[[Tx], None] | None = None,
                    ) -> Callable[[Tx], tuple[Node, bool]]:
        """The one commit of every upload (PUT, TUS, chunking NG): point the node at its durable
        blob; `also(tx)` runs in the same transaction (an upload session's removal)."""
        def commit(tx: Tx) -> tuple[Node, bool]:    # a failure removes the blob: the undo
            result = recorded.commit_upload(tx, self.storage_id, space_id, parts, blob_id, digest,
                                       mtime, if_match, if_none_match_any)
            if also is not None:
                also(tx)
            return result
        return commit

    async def _commit_blob(self, space_id: str, parts: tuple[str, ...], blob_id: str,
                           digest: Digest, mtime: float | None, if_match: str | None,
                           if_none_match_any: bool,
                           also: Callable[[Tx], None] | None = None) -> UploadResult:
        node, created = await self._write(self._commit_job(
            space_id, parts, blob_id, digest, mtime, if_match, if_none_match_any, also),
            undo=functools.partial(self._blobs.remove, [blob_id]))
        return UploadResult(node, created)

    def _discard(self, temp: TempBlob, blob_id: str) -> None:
        temp.discard()
        self._blobs.remove([blob_id])

    def blob_path(self, node: Node) -> Path:
        if node.is_dir or node.blob_id is None:
            raise NotFound("not a file")
        return self._blobs.path(node.blob_id)

    blob = blob_path        # the Storage protocol's name: the local path, no extra call

    async def read_small(self, node: Node) -> bytes:
        """The whole content of a small file (a GET without sendfile). Blobs never change, so
        recently read ones are kept by blob id in a byte-bounded LRU; NotFound if gone."""
        data = None if node.blob_id is None else self._small.get(node.blob_id)
        if data is not None:
            self._small.move_to_end(str(node.blob_id))
            return data
        path = self.blob_path(node)
        blob_id = str(node.blob_id)
        try:
            data = await asyncio.get_running_loop().run_in_executor(self._io, path.read_bytes)
        except FileNotFoundError:
            raise NotFound("resource not found") from None
        self._keep_small(blob_id, data)
        return data

    def _keep_small(self, blob_id: str, data: bytes) -> None:
        """Keep a small blob's content (read, or just uploaded: a blob id is never reused and
        its bytes never change, so nothing here can go stale), evicting the least recent."""
        if len(data) <= _SMALL_BLOB and blob_id not in self._small:
            self._small[blob_id] = data
            self._small_bytes += len(data)
            while self._small_bytes > _SMALL_CACHE_BYTES:
                self._small_bytes -= len(self._small.popitem(last=False)[1])

    async def delete(self, space_id: str, path: Sequence[str]) -> None:
        await self._lock_write(recorded.delete, self.storage_id, self._blobs, space_id, tuple(path),
                               frees=True)

    async def move(self, space_id: str, path: Sequence[str], dst_space_id: str,
                   dst_path: Sequence[str], *, overwrite: bool) -> UploadResult:
        node, created = await self._lock_write(recorded.move, self.storage_id, self._blobs,
                                               space_id, tuple(path), dst_space_id, tuple(dst_path),
                                               overwrite)
        return UploadResult(node, created)

    async def copy(self, space_id: str, path: Sequence[str], dst_space_id: str,
                   dst_path: Sequence[str], *, overwrite: bool,
                   depth_infinity: bool = True) -> UploadResult:
        # An overwritten destination drops its locks: a lock-changing write.
        node, created = await self._lock_write(recorded.copy, self.storage_id, self._blobs,
                                               space_id, tuple(path), dst_space_id, tuple(dst_path),
                                               overwrite, depth_infinity)
        return UploadResult(node, created)

    async def set_mtime(self, node_id: str, mtime: float) -> Node:
        return await self._write(ops.set_mtime, self.storage_id, node_id, mtime)

    # --- trash and versions (trash.py, versions.py) ------------------------------------------

    async def list_trash(self, space_id: str) -> list[TrashItem]:
        def query(conn: sqlite3.Connection) -> list[TrashItem]:
            ops.get_space(conn, space_id)
            return trash.list_items(conn, space_id)
        return await self._read(query)

    async def trash_item(self, space_id: str, key: str) -> TrashItem:
        return await self._read(lambda conn: trash.get_item(conn, space_id, key))

    async def list_trash_folder(self, space_id: str, key: str) -> list[TrashItem]:
        return await self._read(lambda conn: trash.list_children(conn, space_id, key))

    async def restore_trash(self, space_id: str, key: str, *, dst_path: Sequence[str] | None = None,
                            overwrite: bool) -> UploadResult:
        dst = None if dst_path is None else tuple(dst_path)
        node, created = await self._lock_write(recorded.restore_trash, self.storage_id, space_id,
                                               key, dst, overwrite)
        return UploadResult(node, created)

    async def purge_trash(self, space_id: str, key: str) -> None:
        await self._write(recorded.purge_trash, self.storage_id, self._blobs, space_id, key,
                          frees=True)

    async def empty_trash(self, space_id: str) -> int:
        return await self._write(recorded.empty_trash, self.storage_id, self._blobs, space_id,
                                 frees=True)

    async def list_versions(self, node_id: str) -> list[Version]:
        return await self._read(lambda conn: versions.list_versions(conn, self.storage_id, node_id))

    async def version_blob_path(self, node_id: str, key: str) -> Path:
        _, blob_id = await self._read(
            lambda conn: versions.version_blob(conn, self.storage_id, node_id, key))
        return self._blobs.path(blob_id)

    version_blob = version_blob_path

    async def restore_version(self, node_id: str, key: str) -> Node:
        return await self._write(recorded.restore_version, self.storage_id, node_id, key)
