"""Caches kept true across the workers of one node (OCIS_WORKERS > 1).

Each worker keeps in memory what it read from SQLite (the storage's lookups, listings, locks and
spaces, the Depth 0 answers keyed by the storage's change stamp, the user store's users and
accepted passwords) and forgets it when its own writer commits. A commit by another worker is
seen here: before every request (and before a relayed event is handed to its consumers) each
watched database's `PRAGMA data_version` is read on a connection of its own; it changes when any
other connection committed, and then that database's caches are dropped. So a change acknowledged
by one worker is seen by the next request to any worker, never a stale answer. The cost is one
PRAGMA per watched database per request (measured in docs/benchmarks.md, Workers).

What is not cached in memory needs nothing: app tokens, IdP sessions and codes, TUS and chunked
upload sessions, WebDAV locks are read from SQLite on each use, and the login throttle's failures
are shared through SQLite by the runtime (auth/sqlitefailures.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger("ocis.runtime")
Handler = Callable[[web.Request], Any]


class _Watched:
    __slots__ = ("conn", "forget", "last", "path")

    def __init__(self, path: Path, forget: Callable[[], None]) -> None:
        self.path, self.forget = path, forget
        self.conn: sqlite3.Connection | None = None
        self.last: int | None = None

    def check(self) -> None:
        conn = self.conn
        if conn is None:
            if not self.path.exists():
                return
            conn = self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                               check_same_thread=False, timeout=1.0)
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as exc:         # locked past the timeout, replaced: forget anyway
            log.info("freshness check of %s: %s", self.path.name, exc)
            self.forget()
            return
        if version != self.last:
            if self.last is not None:
                self.forget()
            self.last = version

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Freshness:
    """The watched databases of this worker and what to forget when another process wrote."""

    def __init__(self) -> None:
        self._watched: list[_Watched] = []

    def watch(self, path: Path, forget: Callable[[], None]) -> None:
        self._watched.append(_Watched(path, forget))

    def check(self) -> None:
        for watched in self._watched:
            watched.check()

    def middleware(self) -> Any:
        check = self.check

        @web.middleware
        async def fresh(request: web.Request, handler: Handler) -> web.StreamResponse:
            check()
            return await handler(request)        # type: ignore[no-any-return]

        return fresh

    def close(self) -> None:
        for watched in self._watched:
            watched.close()


def forget_cached(store: Any) -> None:
    """Drop what `store` (a storage, a router over several, a user store, or a wrapper of one)
    keeps in memory."""
    forget = getattr(store, "forget_cached", None)
    if forget is not None:
        forget()
        return
    inner = getattr(store, "inner", None)             # PublishingUserStore.inner
    if inner is not None and inner is not store:
        forget_cached(inner)


def storage_database(store: Any) -> Path | None:
    """The metadata.db of a local storage provider; None for one in another process (it keeps
    nothing cached here: storage/remote)."""
    root = getattr(store, "root", None)
    return Path(root) / "metadata.db" if isinstance(root, Path) else None
