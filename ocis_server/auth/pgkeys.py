"""The embedded IdP's signing keys on PostgreSQL (`OCIS_DATABASE_URL`): every front node signs with
the same current key and verifies with the same retired ones, so a token issued through one node
is accepted by every other (behind one balancer they share OCIS_URL, hence the issuer).

Table `idp_keys`: one row per key (kid, private key PEM, since, retired_at; NULL for the current
one). The first node to start puts its key file's key there (`<base>/idp/private-key.pem`, made if
missing), so a single node that gets OCIS_DATABASE_URL keeps its key; later nodes take the stored
one. A rotation (IDP_KEY_ROTATION_INTERVAL) happens once for all: under an advisory lock, only if
the current key is still the one this node had. Other nodes learn of it on their next maintenance
tick, or at once when a token names a key they do not know (`refresh`, at most every few seconds).
The database holds the private keys: guard its access like the key files.

PostgreSQL away at start: the node signs with its own file key (logged) and joins the shared keys
once the database answers; while away, a rotation waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from joserfc.jwk import RSAKey

from ocis_server.domain.errors import ServiceUnavailable
from ocis_server.postgres import Connection, Tables

from .keys import KeySet, SigningKey

log = logging.getLogger(__name__)
REFRESH_AT_MOST_EVERY = 5.0     # seconds between reloads asked for by unknown kids
# pg_advisory_xact_lock key of key changes ("ocis-key").
_LOCK = int.from_bytes(b"ocis-key", "big") & 0x7FFF_FFFF_FFFF_FFFF

STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE idp_keys (
            kid TEXT PRIMARY KEY, pem TEXT NOT NULL, since DOUBLE PRECISION NOT NULL,
            retired_at DOUBLE PRECISION)""",
     "CREATE UNIQUE INDEX idp_keys_one_current ON idp_keys ((retired_at IS NULL))"
     " WHERE retired_at IS NULL"),
)


def _key(pem: str, retired_at: float | None) -> SigningKey:
    key = RSAKey.import_key(pem.encode())
    return SigningKey(key.thumbprint(), key, retired_at or 0.0)


class SharedKeySet(KeySet):
    """A KeySet whose keys live in PostgreSQL (sign and verify stay in memory, as KeySet's)."""

    _tables: Tables
    _synced: float = 0.0          # monotonic time of the last reload, 0 before the first

    @classmethod
    async def open_shared(cls, url: str, directory: Path, *, algorithm: str = "RS256",
                          keep_retired: float = 3600.0) -> SharedKeySet:
        current, retired, since = await asyncio.to_thread(cls._load, directory, keep_retired)
        self = cls(directory, current, retired, algorithm=algorithm, keep_retired=keep_retired,
                   since=since)
        self._tables = Tables(url, "idp_keys", STEPS, size=2)
        try:
            await self._reload()
        except ServiceUnavailable:
            log.warning("idp: the shared signing keys are not reachable; signing with this "
                        "node's key file until the database answers")
        return self

    async def _reload(self, *, rotate_from: str | None = None) -> None:
        """Take the stored keys (storing ours first when there are none); with `rotate_from`,
        first replace the current key by a new one if it is still that kid."""
        fresh = None if rotate_from is None else await asyncio.to_thread(
            lambda: RSAKey.generate_key(2048, private=True).as_pem(private=True).decode())
        async with self._tables.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            now = time.time()
            current = await self._current_row(conn)
            if current is None:
                await conn.execute("INSERT INTO idp_keys (kid, pem, since) VALUES (%s, %s, %s)",
                                   (self._current.kid,
                                    self._current.key.as_pem(private=True).decode(), self.since))
            elif fresh is not None and current == rotate_from:
                await conn.execute("UPDATE idp_keys SET retired_at = %s WHERE kid = %s",
                                   (now, current))
                key = _key(fresh, None)
                await conn.execute("INSERT INTO idp_keys (kid, pem, since) VALUES (%s, %s, %s)",
                                   (key.kid, fresh, now))
            await conn.execute("DELETE FROM idp_keys WHERE retired_at < %s",
                               (now - self.keep_retired,))
            cur = await conn.execute("SELECT pem, since, retired_at FROM idp_keys"
                                     " ORDER BY retired_at DESC NULLS FIRST")
            rows = await cur.fetchall()
        keys = [(_key(str(pem), retired_at), float(since)) for pem, since, retired_at in rows]
        (self._current, self.since), self._retired = keys[0], [k for k, _ in keys[1:]]
        self._public = self._build_public()
        self._synced = time.monotonic()

    @staticmethod
    async def _current_row(conn: Connection) -> str | None:
        cur = await conn.execute("SELECT kid FROM idp_keys WHERE retired_at IS NULL")
        row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def rotate(self) -> str:
        """A new current key for every node, unless another node rotated first (then its key)."""
        await self._reload(rotate_from=self._current.kid)
        return self._current.kid

    async def prune(self) -> None:
        """The maintenance tick: reload (other nodes' rotations, retired keys past their time)."""
        await self._reload()

    async def refresh(self) -> None:
        """A token named a key this node does not know: reload, at most every few seconds."""
        if time.monotonic() - self._synced >= REFRESH_AT_MOST_EVERY:
            await self._reload()

    async def close(self) -> None:
        await self._tables.close()
