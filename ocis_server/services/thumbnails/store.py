"""Made thumbnails on disk (THUMBNAILS_FILESYSTEMSTORAGE_ROOT), and the worker threads that make
them.

A thumbnail is stored under a key that names the file's content and the request (service.py), so
a changed file gets a new thumbnail and an unchanged one is never made twice: a second request is
a read of a small file. The same key asked for twice at once is rendered once (the second waits
for the first). Writes go to a temporary file renamed into place, so a reader never sees half a
thumbnail. The store is bounded in bytes: past THUMBNAILS_CACHE_MAX_SIZE the least recently used
thumbnails are removed. Rendering runs in a small pool of threads (never on the event loop);
THUMBNAILS_MAX_CONCURRENT_REQUESTS caps the renders waiting or running (oCIS: 429 past it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .thumbnailer import ThumbnailError

_FAILED_MAX = 1024          # keys of files known to give no thumbnail, remembered in memory


class Busy(Exception):
    """THUMBNAILS_MAX_CONCURRENT_REQUESTS renders are already waiting or running."""


class ThumbnailStore:
    def __init__(self, root: Path | None, max_bytes: int, *, workers: int = 2,
                 max_pending: int = 0) -> None:
        self.root = root                  # None: nothing kept on disk (render every time)
        self.max_bytes = max_bytes
        self.max_pending = max_pending    # 0 = no cap, as oCIS's default
        self.renders = 0                  # thumbnails made (not served from the store)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix="thumbnails")
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self._failed: OrderedDict[str, ThumbnailError] = OrderedDict()
        self._index: OrderedDict[str, int] | None = None     # key -> bytes, oldest use first
        self._total = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def get(self, key: str, make: Callable[[], bytes]) -> bytes:
        """The thumbnail stored under `key`, made with `make` (in a worker thread) if missing.
        Raises what `make` raises (a ThumbnailError is remembered: no second attempt), or Busy."""
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        if self.root is not None and self._index is None:
            await asyncio.to_thread(self._indexed, key)     # the first look lists the folder
        while True:
            pending = self._inflight.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
            # No await between this look and taking the key below: a render stores (and
            # indexes) its thumbnail before it leaves _inflight, so one of the two sees it.
            if self.root is None or not self._indexed(key):
                break
            data = await asyncio.to_thread(self._load, key)
            if data is not None:
                return data
        if self.max_pending and len(self._inflight) >= self.max_pending:
            raise Busy("too many thumbnails are being made; retry later")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        future.add_done_callback(_consume)
        self._inflight[key] = future
        try:
            data = await loop.run_in_executor(self._pool, self._make, key, make)
        except ThumbnailError as exc:
            self._remember_failure(key, exc)
            future.set_exception(exc)
            raise
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(data)
        return data

    def _remember_failure(self, key: str, exc: ThumbnailError) -> None:
        self._failed[key] = exc
        while len(self._failed) > _FAILED_MAX:
            self._failed.popitem(last=False)

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / key

    def _make(self, key: str, make: Callable[[], bytes]) -> bytes:
        data = make()
        with self._lock:
            self.renders += 1
        if self.root is not None:
            self._store(key, data)
        return data

    def _indexed(self, key: str) -> bool:
        with self._lock:
            return key in self._ensure_index()

    def _load(self, key: str) -> bytes | None:
        """The stored thumbnail, now the most recently used; None (and forgotten) if gone."""
        with self._lock:
            index = self._ensure_index()
            if key not in index:
                return None
            index.move_to_end(key)
        try:
            return self._path(key).read_bytes()
        except OSError:
            with self._lock:
                self._total -= index.pop(key, 0)
            return None

    def _store(self, key: str, data: bytes) -> None:
        path = self._path(key)
        temp = path.with_name(f".{key}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(data)
            os.replace(temp, path)
        except OSError:           # a full or read-only disk: serve the thumbnail unstored
            with contextlib.suppress(OSError):
                temp.unlink()
            return
        with self._lock:
            index = self._ensure_index()
            self._total += len(data) - index.pop(key, 0)
            index[key] = len(data)
            victims = []
            while self._total > self.max_bytes and len(index) > 1:
                old, size = index.popitem(last=False)
                self._total -= size
                victims.append(old)
        for old in victims:
            with contextlib.suppress(OSError):
                self._path(old).unlink()

    def _ensure_index(self) -> OrderedDict[str, int]:
        """What is on disk, oldest first (read once, under the lock)."""
        if self._index is None:
            found: list[tuple[float, str, int]] = []
            if self.root is not None and self.root.is_dir():
                for sub in self.root.iterdir():
                    if not sub.is_dir():
                        continue
                    for entry in os.scandir(sub):
                        if entry.is_file() and not entry.name.startswith("."):
                            stat = entry.stat()
                            found.append((stat.st_mtime, entry.name, stat.st_size))
            found.sort()
            self._index = OrderedDict((name, size) for _, name, size in found)
            self._total = sum(size for _, _, size in found)
        return self._index


def _consume(future: asyncio.Future[bytes]) -> None:
    """Nobody else may be waiting: an exception no one reads must not be logged as lost."""
    if not future.cancelled():
        future.exception()
