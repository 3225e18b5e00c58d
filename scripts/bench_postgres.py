"""What shared state on PostgreSQL costs per operation, beside the SQLite stores of one node.

Starts a throw-away cluster (tests/pgcluster.py: initdb + pg_ctl on a free loopback port) and times,
one call at a time, N calls of: an app token check, a refresh token rotation at the IdP, and the
login throttle's paths (a trusted sign-in, a first sign-in of a pair in the window, a failure).
Prints microseconds per call (median) and calls per second. Usage:
    .venv/bin/python scripts/bench_postgres.py [N]      (default 500)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pgcluster import throwaway_cluster  # noqa: E402

from ocis_server.auth.logins import LoginThrottle  # noqa: E402
from ocis_server.auth.pgfailures import PostgresFailures  # noqa: E402
from ocis_server.identity.apptokens import AppTokenStore  # noqa: E402
from ocis_server.identity.pgapptokens import PostgresAppTokenStore  # noqa: E402
from ocis_server.services.idp.pgidp import PostgresIdpStore  # noqa: E402
from ocis_server.services.idp.store import Grant, IdpRules, IdpStore  # noqa: E402


async def timed(n: int, fn: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """(median µs per call, calls per second) of n sequential calls fn(0..n-1)."""
    times = []
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await fn(i)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6, n / (time.perf_counter() - t0)


def row(name: str, result: tuple[float, float]) -> None:
    print(f"| {name} | {result[0]:.0f} µs | {result[1]:.0f}/s |")


async def tokens(n: int, name: str, store: AppTokenStore | PostgresAppTokenStore) -> None:
    token, record = await store.create("u1", lifetime=3600)
    row(f"app token check, {name}", await timed(n, lambda _: store.verify("u1", token)))
    await store.close()


async def refresh(n: int, name: str, store: IdpRules) -> None:
    grant = Grant("ocis-cli", "u1", "openid", int(time.time()), "fam")
    await store.add_refresh("t0", grant, 3600)

    async def rotate(i: int) -> None:
        assert await store.use_refresh(f"t{i}") is not None
        await store.add_refresh(f"t{i + 1}", grant, 3600)
    row(f"refresh token rotation (use + add), {name}", await timed(n, rotate))
    await store.close()


async def throttle(n: int, url: str | None) -> None:
    name = "PostgreSQL" if url else "memory"
    shared = PostgresFailures(url) if url else None
    t = LoginThrottle(max_failures=10**6, window=300, address_max_failures=10**6, delay=0,
                      shared=shared)

    async def trusted(_: int) -> None:
        await t.admit("user:a", "addr:10.0.0.1")
        t.success("user:a", "addr:10.0.0.1", source="basic")

    async def first(i: int) -> None:      # a new pair each time: nothing trusted yet
        await t.admit("user:a", f"addr:10.1.{i // 250}.{i % 250}")
        t.success("user:a", f"addr:10.1.{i // 250}.{i % 250}", source="basic")

    async def failed(i: int) -> None:     # one guess per account and address: no replay cost
        address = f"addr:10.2.{i // 250}.{i % 250}"
        await t.admit(f"user:f{i}", address)
        await t.failed(f"user:f{i}", address, source="basic")
    await trusted(0)
    row(f"throttle, right password of a trusted pair, {name}", await timed(n, trusted))
    row(f"throttle, first right password of a pair, {name}", await timed(n, first))
    row(f"throttle, wrong password, {name}", await timed(n, failed))
    await t.close()


async def main(n: int, url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("| operation | median per call | calls/s (sequential) |\n|---|---|---|")
        await tokens(n, "SQLite", await AppTokenStore.open(Path(tmp) / "apptokens.db"))
        await tokens(n, "PostgreSQL", await PostgresAppTokenStore.open(url))
        await refresh(n, "SQLite", await IdpStore.open(Path(tmp) / "idp.db"))
        await refresh(n, "PostgreSQL", await PostgresIdpStore.open(url))
        await throttle(n, None)
        await throttle(n, url)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with throwaway_cluster() as cluster:
        asyncio.run(main(count, cluster.url))
