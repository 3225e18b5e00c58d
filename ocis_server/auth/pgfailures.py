"""The login throttle's failures on PostgreSQL (`OCIS_DATABASE_URL`), so that every front node
counts the wrong passwords of all of them: an attacker spreading his guesses over N nodes gets
the budget of one. Only the failures are shared; the rule that turns them into a lock or a delay
stays in logins.py / throttle.py and runs on each node over the rows read here.

One row per failed attempt (account, address, source, when: wall-clock seconds); a right password
marks the rows of its pair and path `cleared` (they no longer count for the pair, but still for
the account's delay and the address, as in memory). Rows older than the window plus the lockout
are deleted with the next failure. PostgreSQL away: ServiceUnavailable (503 + Retry-After).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ocis_server.postgres import Tables

STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE login_failures (
            account TEXT NOT NULL,
            address TEXT NOT NULL,
            source TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            cleared BOOLEAN NOT NULL DEFAULT FALSE)""",
     "CREATE INDEX login_failures_by_account ON login_failures (account, at)",
     "CREATE INDEX login_failures_by_address ON login_failures (address, at)",
     "CREATE INDEX login_failures_by_time ON login_failures (at)"),
)


class Failure(NamedTuple):
    account: str
    address: str
    source: str
    at: float          # wall clock (time.time()) of the node that recorded it
    cleared: bool


class PostgresFailures:
    """The shared failure rows; migrated on first use (postgres.Tables)."""

    def __init__(self, url: str) -> None:
        self._tables = Tables(url, "login_failures", STEPS, size=4)

    async def load(self, account: str, address: str, since: float) -> Sequence[Failure]:
        """The failures since `since` on `account` or from `address`, oldest first."""
        async with self._tables.connection() as conn:
            cur = await conn.execute(
                "SELECT account, address, source, at, cleared FROM login_failures"
                " WHERE (account = %s OR address = %s) AND at > %s ORDER BY at",
                (account, address, since))
            rows = await cur.fetchall()
        return [Failure(str(r[0]), str(r[1]), str(r[2]), float(r[3]), bool(r[4])) for r in rows]

    async def add(self, account: str, address: str, source: str, at: float,
                  forget_before: float) -> None:
        async with self._tables.connection() as conn:     # one statement, one round trip
            await conn.execute(
                "WITH gone AS (DELETE FROM login_failures WHERE at < %s)"
                " INSERT INTO login_failures (account, address, source, at)"
                " VALUES (%s, %s, %s, %s)", (forget_before, account, address, source, at))

    async def clear(self, account: str, address: str, source: str) -> None:
        async with self._tables.connection() as conn:
            await conn.execute("UPDATE login_failures SET cleared = TRUE WHERE account = %s"
                               " AND address = %s AND source = %s AND NOT cleared",
                               (account, address, source))

    async def close(self) -> None:
        await self._tables.close()
