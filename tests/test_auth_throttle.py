"""The login throttle: lockout after repeated failures, expiry, bounds, and client_address."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

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
