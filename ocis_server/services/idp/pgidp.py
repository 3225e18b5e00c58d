"""The IdP's state on PostgreSQL (`OCIS_DATABASE_URL`): a user signs in through one front node and
refreshes the token through another; a code or refresh token used on one node is used on all.
The rules are IdpRules' (store.py); this driver runs each program in one transaction, locking the
row a step reads to change (`FOR UPDATE`). PostgreSQL away: ServiceUnavailable (503)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ocis_server.postgres import Tables

from .store import Do, IdpRules, One, Program

T = TypeVar("T")

# Version i is STEPS[i-1]; appended, never edited. The columns of store.SCHEMA.
STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE codes (
            hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, nonce TEXT, challenge TEXT,
            auth_time BIGINT NOT NULL, expires DOUBLE PRECISION NOT NULL,
            used INTEGER NOT NULL DEFAULT 0, family TEXT NOT NULL)""",
     """CREATE TABLE devices (
            hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
            scope TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL, "interval" INTEGER NOT NULL,
            last_poll DOUBLE PRECISION NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'pending', user_id TEXT, auth_time BIGINT,
            family TEXT NOT NULL)""",
     """CREATE TABLE refresh (
            hash TEXT PRIMARY KEY, family TEXT NOT NULL, client_id TEXT NOT NULL,
            user_id TEXT NOT NULL, scope TEXT NOT NULL, auth_time BIGINT NOT NULL,
            expires DOUBLE PRECISION NOT NULL, used INTEGER NOT NULL DEFAULT 0)""",
     "CREATE INDEX refresh_family ON refresh (family)",
     """CREATE TABLE sessions (
            hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, auth_time BIGINT NOT NULL,
            expires DOUBLE PRECISION NOT NULL)"""),
)


def _sql(op: One | Do) -> str:
    """The shared SQL in psycopg's form: `?` -> `%s` (no `?` or `%` stands in it otherwise)."""
    sql = op.sql.replace("?", "%s")
    return f"{sql} FOR UPDATE" if isinstance(op, One) and op.lock else sql


class PostgresIdpStore(IdpRules):
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    @classmethod
    async def open(cls, url: str) -> PostgresIdpStore:
        """Migrated now, or on first use when the database is away at start."""
        tables = Tables(url, "idp", STEPS)
        await tables.try_ready()
        return cls(tables)

    async def _run(self, program: Callable[[], Program[T]]) -> T:
        async with self._tables.connection() as conn, conn.transaction():
            steps = program()
            try:
                op = next(steps)
                while True:
                    cur = await conn.execute(_sql(op), op.args)
                    answer: Any = await cur.fetchone() if isinstance(op, One) else cur.rowcount
                    op = steps.send(answer)
            except StopIteration as done:
                return done.value    # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._tables.close()
