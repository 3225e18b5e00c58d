"""The throttles: lockout after repeated failures, expiry, bounds, client_address; the login
throttle's hard per-pair lock, soft capped per-account delay and bounded waiting room."""

from __future__ import annotations

import asyncio
import time

import pytest
from multidict import CIMultiDict

from ocis_server.auth.logins import LoginThrottle
from ocis_server.auth.throttle import Throttle, address_key, client_address
from ocis_server.domain.errors import TooManyRequests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_locks_after_max_failures_and_unlocks_after_lockout() -> None:
    clock = Clock()
    t = Throttle(max_failures=3, window=60, lockout=30, clock=clock)
    for _ in range(2):
        t.failure("user:einstein", "addr:1.2.3.4")
        t.check("user:einstein")
    t.failure("user:einstein", "addr:1.2.3.4")
    with pytest.raises(TooManyRequests) as info:
        t.check("user:marie", "addr:1.2.3.4")
    assert info.value.status == 429 and 0 < info.value.retry_after <= 30
    assert t.locked("user:einstein")
    assert not t.locked("user:marie")
    clock.now += 31
    t.check("user:einstein", "addr:1.2.3.4")


def test_failures_outside_the_window_do_not_count() -> None:
    clock = Clock()
    t = Throttle(max_failures=3, window=10, clock=clock)
    t.failure("k")
    t.failure("k")
    clock.now += 11
    t.failure("k")
    t.check("k")
    t.failure("k")
    t.failure("k")
    assert t.locked("k")


def test_success_forgets_failures() -> None:
    t = Throttle(max_failures=2, window=60)
    t.failure("user:a")
    t.success("user:a")
    t.failure("user:a")
    t.check("user:a")


def test_memory_is_bounded_and_locked_keys_survive_stale_ones() -> None:
    clock = Clock()
    t = Throttle(max_failures=1, window=5, lockout=1000, max_keys=10, clock=clock)
    t.failure("victim")
    clock.now += 10
    for i in range(5):
        t.failure(f"noise{i}")
    t2 = Throttle(max_failures=2, window=5, max_keys=10, clock=clock)
    for i in range(50):
        t2.failure(f"k{i}")
    assert len(t2) <= 10
    assert t.locked("victim")


def test_bad_parameters_refused() -> None:
    with pytest.raises(ValueError):
        Throttle(max_failures=0)


class Req:
    def __init__(self, remote: str, xff: list[str] | None = None) -> None:
        self.remote = remote
        self.headers = CIMultiDict(("X-Forwarded-For", v) for v in (xff or []))


def test_client_address_ignores_forwarded_for_from_untrusted_peer() -> None:
    assert client_address(Req("10.0.0.5", ["6.6.6.6"]), []) == "10.0.0.5"
    assert client_address(Req("10.0.0.5", ["6.6.6.6"]), ["127.0.0.1"]) == "10.0.0.5"


def test_client_address_walks_trusted_hops_right_to_left() -> None:
    trusted = ["127.0.0.1", "10.0.0.0/8"]
    assert client_address(Req("127.0.0.1", ["203.0.113.9"]), trusted) == "203.0.113.9"
    # a forged left-most entry does not win over the real client the proxy appended
    assert client_address(Req("127.0.0.1", ["1.1.1.1, 203.0.113.9, 10.1.2.3"]), trusted) == "203.0.113.9"
    assert client_address(Req("127.0.0.1", ["1.1.1.1", "203.0.113.9"]), trusted) == "203.0.113.9"
    assert client_address(Req("127.0.0.1", ["not-an-ip"]), trusted) == "127.0.0.1"
    assert client_address(Req("127.0.0.1", []), trusted) == "127.0.0.1"
    assert client_address(Req("::1", ["2001:db8::1"]), ["::1"]) == "2001:db8::1"


def test_address_key_groups_ipv6_by_64() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "addr:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("192.0.2.1") == "addr:192.0.2.1" == address_key("::ffff:192.0.2.1")
    assert address_key("") == "addr:"


# --- the login throttle (auth/logins.py) on its own --------------------------------------------
class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_a_pair_locks_hard_the_account_only_waits() -> None:
    clock, sleeps = Clock(), Sleeps()
    t = LoginThrottle(max_failures=3, window=60, address_max_failures=50, delay=0.5, max_delay=2,
                      clock=clock, sleep=sleeps)
    for _ in range(3):
        await t.admit("user:a", "addr:bad")
        t.failure("user:a", "addr:bad", source="basic")
    with pytest.raises(TooManyRequests):
        await t.admit("user:a", "addr:bad")          # the guessing client is locked out ...
    assert sleeps.slept == []                         # (three failures: no delay yet)
    await t.admit("user:a", "addr:owner")            # ... the owner elsewhere is not
    assert sleeps.slept == [0.5]
    for n in range(2, 10):
        t.failure("user:a", f"addr:bot{n}", source="basic")
    assert t.delay_for("user:a") == 2                 # doubling, capped at max_delay
    t.success("user:a", "addr:owner", source="basic")
    await t.admit("user:a", "addr:owner")            # a trusted pair does not wait again
    assert sleeps.slept == [0.5]
    clock.now += 61
    assert t.delay_for("user:a") == 0 and not t.locked("user:a", "addr:bad")


async def test_the_waiting_room_is_bounded_and_never_turns_away_a_clean_client() -> None:
    t = LoginThrottle(max_failures=1, window=60, address_max_failures=50, delay=5, max_delay=5,
                      max_waiting=2)
    t.failure("user:a", "addr:bot0", source="basic")
    t.failure("user:b", "addr:bot1", source="basic")     # bot1 failed: it is not clean
    waiting = [asyncio.create_task(t.admit("user:a", f"addr:w{n}")) for n in range(2)]
    await asyncio.sleep(0.01)
    assert t.waiting == 2
    with pytest.raises(TooManyRequests) as info:
        await t.admit("user:a", "addr:bot1")
    assert info.value.retry_after == 5
    started = time.monotonic()
    await asyncio.wait_for(t.admit("user:a", "addr:clean"), 1)  # goes on without waiting
    assert time.monotonic() - started < 1
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert t.waiting == 0                                # cancelled waits leave the room


def test_login_throttle_tables_are_bounded() -> None:
    t = LoginThrottle(max_failures=2, window=60, max_keys=10)
    for n in range(100):
        t.failure(f"user:{n}", f"addr:{n}", source="idp")
        t.success(f"user:{n}", f"addr:x{n}", source="idp")
    assert len(t) <= 30


class Rows:
    """The shared failure rows of auth/pgfailures.py, kept in a list (the rule under test is
    the nodes' replay of them; tests/test_postgres_nodes.py runs the real tables)."""

    def __init__(self) -> None:
        self.rows: list[list[object]] = []
        self.loads = 0

    async def load(self, account: str, address: str,
                   since: float) -> list[tuple[str, str, str, float, bool]]:
        self.loads += 1
        return [(str(a), str(d), str(s), float(str(t)), bool(c)) for a, d, s, t, c in self.rows
                if (a == account or d == address) and float(str(t)) > since]

    async def add(self, account: str, address: str, source: str, at: float,
                  forget_before: float) -> None:
        self.rows = [r for r in self.rows if float(str(r[3])) >= forget_before]
        self.rows.append([account, address, source, at, False])

    async def clear(self, account: str, address: str, source: str) -> None:
        for r in self.rows:
            if r[:3] == [account, address, source]:
                r[4] = True

    async def close(self) -> None:
        pass


async def test_nodes_sharing_failure_rows_count_them_together() -> None:
    """Two nodes (different monotonic clocks, one wall clock): 2 + 2 failures lock the pair on
    both; the account's delay counts all four; a trusted pair is not read back; a right password
    after failures clears them for its pair only."""
    rows, wall = Rows(), Clock()
    mono_a, mono_b = Clock(), Clock()
    mono_b.now = 50.0
    nodes = [LoginThrottle(max_failures=4, window=60, address_max_failures=50, delay=0.5,
                           max_delay=2, clock=mono, sleep=Sleeps(), shared=rows, wall=wall)
             for mono in (mono_a, mono_b)]
    a, b = nodes
    for node in (a, b, a):
        await node.admit("user:m", "addr:bad")
        await node.failed("user:m", "addr:bad", source="basic")
    await b.admit("user:m", "addr:bad")                 # three: not locked yet
    await b.failed("user:m", "addr:bad", source="basic")
    for node in (a, b):
        with pytest.raises(TooManyRequests):
            await node.admit("user:m", "addr:bad")
        assert node.delay_for("user:m") == 0.5          # four failures of the account, from both
    # Time passes on every clock: the lock ends everywhere.
    for clock in (wall, mono_a, mono_b):
        clock.now += 61
    await a.admit("user:m", "addr:bad")
    # The owner signs in on A: trusted there, so A reads nothing more for that pair.
    await a.admit("user:m", "addr:owner")
    a.success("user:m", "addr:owner", source="basic")
    loads = rows.loads
    for _ in range(5):
        await a.admit("user:m", "addr:owner")
        a.success("user:m", "addr:owner", source="basic")
    assert rows.loads == loads
    # Three failures from addr:x on B, then the right password there: the pair's rows are
    # cleared (no lock after one more), the account and the address still count them.
    for _ in range(3):
        await b.admit("user:m", "addr:x")
        await b.failed("user:m", "addr:x", source="basic")
    await b.admit("user:m", "addr:x")
    b.success("user:m", "addr:x", source="basic")
    await asyncio.gather(*b._pending)
    assert [r[4] for r in rows.rows if r[1] == "addr:x"] == [True, True, True]
    await a.admit("user:m", "addr:x")                   # A reads them: the pair is not locked
    assert a.hard.failures("addr:x") == 3 and a.delay_for("user:m") == 0
    await a.failed("user:m", "addr:x", source="basic")
    await b.admit("user:m", "addr:y")
    assert b.delay_for("user:m") == 0.5                 # 4 account failures within the window
