"""Shared state in PostgreSQL (`OCIS_DATABASE_URL=postgresql://...`): a small connection pool over
psycopg 3 and the schema migrations every node runs at start (docs/decisions/0016-postgresql.md).

- The pool holds at most `size` connections; waiting for one, connecting and every statement have
  time-outs. A database that is away (refused, reset, timed out, shut down) is ServiceUnavailable
  (503 with Retry-After), never a crash: the broken connection is dropped, so are the idle ones
  (a restarted server closed them all), and the next request connects afresh. An idle connection
  the server hung up on (its socket readable) is noticed before reuse, without a round trip.
- `migrate` brings one component's tables to the newest version inside one transaction that holds
  a transaction-level advisory lock: two nodes starting at once migrate once, the second waits and
  then finds nothing to do. DDL is transactional in PostgreSQL, so a failed step leaves nothing.
"""

from __future__ import annotations

import asyncio
import logging
import select
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import pq

from ocis_server.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)
Connection = psycopg.AsyncConnection[tuple[Any, ...]]

RETRY_AFTER = 5.0          # seconds a client is told to wait while the database is away
_PING_AFTER = 2.0          # an idle connection older than this is pinged before it is reused
# pg_advisory_xact_lock key of schema migrations: any fixed 64-bit number, ours is "ocis-mig".
_MIGRATION_LOCK = int.from_bytes(b"ocis-mig", "big") & 0x7FFF_FFFF_FFFF_FFFF
_VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS ocis_schema (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)"""


def _unavailable(exc: BaseException) -> ServiceUnavailable:
    lines = str(exc).strip().splitlines()
    log.warning("PostgreSQL is not reachable: %s", lines[0] if lines else type(exc).__name__)
    return ServiceUnavailable("the database (PostgreSQL) is not reachable", retry_after=RETRY_AFTER)


def _hung_up(conn: Connection) -> bool:
    """An idle connection has nothing to read unless the server said goodbye (or closed it)."""
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


class Pool:
    """At most `size` connections (autocommit) to one database, handed out one at a time."""

    def __init__(self, url: str, *, size: int = 10, connect_timeout: float = 5.0,
                 statement_timeout: float = 10.0, acquire_timeout: float = 5.0) -> None:
        self._url = url
        self._connect_timeout = max(1, round(connect_timeout))   # libpq takes whole seconds
        self._statement_ms = int(statement_timeout * 1000)
        self._acquire_timeout = acquire_timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[Connection, float]] = []          # (connection, returned at)
        self._closed = False

    async def _connect(self) -> Connection:
        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=self._connect_timeout,
            options=f"-c statement_timeout={self._statement_ms}",
            application_name="ocis")

    async def _checkout(self) -> Connection:
        while self._idle:
            conn, since = self._idle.pop()
            if _hung_up(conn):
                # The server closed it (a restart sends every session a notice and hangs up):
                # so did it the others. No round trip needed to know.
                await conn.close()
                await self._drop_idle()
                break
            if time.monotonic() - since < _PING_AFTER:
                return conn
            try:
                await conn.execute("SELECT 1")
                return conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                await conn.close()
                await self._drop_idle()
        return await self._connect()

    async def _checkin(self, conn: Connection) -> None:
        usable = (not conn.closed and not conn.broken and not self._closed
                  and conn.info.transaction_status == pq.TransactionStatus.IDLE)
        if usable:
            self._idle.append((conn, time.monotonic()))
        else:
            await conn.close()

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await conn.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """One connection for the block; ServiceUnavailable when the database is away or every
        connection stays busy past the acquire time-out. Domain errors pass through."""
        if self._closed:
            raise RuntimeError("the PostgreSQL pool is closed")
        try:
            await asyncio.wait_for(self._slots.acquire(), self._acquire_timeout)
        except TimeoutError:
            raise ServiceUnavailable("every database connection is busy", retry_after=1) from None
        try:
            try:
                conn = await self._checkout()
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
                raise _unavailable(exc) from None
            try:
                yield conn
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                await conn.close()
                await self._drop_idle()
                raise _unavailable(exc) from None
            finally:
                await self._checkin(conn)
        finally:
            self._slots.release()

    async def close(self) -> None:
        self._closed = True
        await self._drop_idle()


async def migrate(pool: Pool, component: str, steps: Sequence[Sequence[str]]) -> int:
    """Bring `component`'s tables to version len(steps): step i (1-based) is a list of SQL
    statements run when the stored version is below i. Returns how many steps this call ran
    (0 when another node had done them). A database newer than `steps` is refused."""
    async with pool.connection() as conn, conn.transaction():
        # Waiting for another node's migration must not count against the statement time-out.
        await conn.execute("SET LOCAL statement_timeout = 0")
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(_VERSIONS_TABLE)
        cur = await conn.execute("SELECT version FROM ocis_schema WHERE component = %s",
                                 (component,))
        row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(steps):
            raise RuntimeError(f"the {component} tables have schema version {version}; "
                               f"this server knows {len(steps)}")
        for step in steps[version:]:
            for statement in step:
                await conn.execute(statement)
        if version < len(steps):
            await conn.execute(
                "INSERT INTO ocis_schema (component, version) VALUES (%s, %s)"
                " ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                (component, len(steps)))
            log.info("PostgreSQL: %s tables migrated from version %d to %d",
                     component, version, len(steps))
        return len(steps) - version


class Tables:
    """One component's tables over its own pool, migrated on first use: a node whose database
    is away at start still starts (what needs the tables answers 503 until it is back), and the
    migration is tried again with the next request."""

    def __init__(self, url: str, component: str, steps: Sequence[Sequence[str]], *,
                 size: int = 4) -> None:
        self.pool = Pool(url, size=size)
        self._component, self._steps = component, steps
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                await migrate(self.pool, self._component, self._steps)
                self._ready = True

    async def try_ready(self) -> None:
        """At start: migrate now if the database answers, else later (logged, not raised)."""
        try:
            await self.ready()
        except ServiceUnavailable:
            log.warning("PostgreSQL: %s tables not migrated yet (the database is away)",
                        self._component)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        await self.ready()
        async with self.pool.connection() as conn:
            yield conn

    async def close(self) -> None:
        await self.pool.close()
