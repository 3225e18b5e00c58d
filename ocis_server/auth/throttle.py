"""Counting failures per key, with a lock for a key that failed too often within a window
(security-notes.md §7); in memory and bounded. `client_address` says which address a request
comes from, trusting X-Forwarded-For only from configured proxies, and `address_key` turns it
into the key of a client (IPv6 per /64).

The login throttle every password path shares is built on this (auth/logins.py); the IdP's
device-code check uses a Throttle of its own.
- `check` raises TooManyRequests while a key is locked.
- `failure` counts against each key; `max_failures` within `window` lock a key, `addr:` keys lock
  after `address_max_failures` (looser: many people share a NAT).
- `success(key, source=...)` forgets only the failures that same path recorded. A success never
  lifts a lock in force; only time does.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ocis_server.domain.errors import TooManyRequests

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class _Entry:
    failures: deque[tuple[float, str]] = field(default_factory=deque)   # (when, source)
    locked_until: float = 0.0


class Throttle:
    """`max_failures` failures of a key within `window` seconds lock it for `lockout` seconds
    (default: the window); `addr:` keys lock after `address_max_failures` (default: the same).
    At most `max_keys` keys are remembered; the least recently failed go first, expired ones
    before any still locked."""

    def __init__(self, max_failures: int = 5, window: float = 300.0, *, lockout: float | None = None,
                 address_max_failures: int | None = None, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        per_address = max_failures if address_max_failures is None else address_max_failures
        if min(max_failures, per_address) < 1 or window <= 0 or max_keys < 1:
            raise ValueError("max_failures, window and max_keys must be positive")
        self.max_failures = max_failures
        self.address_max_failures = per_address
        self.window = window
        self.lockout = window if lockout is None else lockout
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()   # the IdP may record failures from worker threads

    def check(self, *keys: str) -> None:
        """Raise TooManyRequests while any of `keys` is locked."""
        if not self._entries:   # nobody failed lately: the per-request fast path, no lock taken
            return
        now = self._clock()
        with self._lock:
            wait = max((e.locked_until - now for k in keys if (e := self._entries.get(k)) is not None),
                       default=0.0)
        if wait > 0:
            raise TooManyRequests("too many failed attempts, try again later", retry_after=wait)

    def locked(self, *keys: str) -> bool:
        try:
            self.check(*keys)
        except TooManyRequests:
            return True
        return False

    def failure(self, *keys: str, source: str = "") -> None:
        """Record one failed attempt of the path `source` against each of `keys`."""
        now = self._clock()
        with self._lock:
            for key in keys:
                entry = self._entries.pop(key, None) or _Entry()
                self._entries[key] = entry        # most recently failed last
                self._count(key, entry, now, source)
            self._evict(now)

    def _count(self, key: str, entry: _Entry, when: float, source: str) -> None:
        """The one rule: a failure at `when`; `max_failures` within `window` lock the key."""
        failures = entry.failures
        failures.append((when, source))
        while failures and failures[0][0] <= when - self.window:
            failures.popleft()
        if len(failures) >= self._limit(key):
            entry.locked_until = when + self.lockout
            failures.clear()

    def replace(self, key: str, events: Iterable[tuple[float, str]]) -> None:
        """Set `key` to what these failures (when, source), oldest first, add up to: the
        failures every node recorded (auth/pgfailures.py), counted by the same rule."""
        entry = _Entry()
        for when, source in events:
            self._count(key, entry, when, source)
        now = self._clock()
        with self._lock:
            self._entries.pop(key, None)
            if entry.locked_until > now or any(f[0] > now - self.window for f in entry.failures):
                self._entries[key] = entry
                self._evict(now)

    def success(self, *keys: str, source: str = "") -> None:
        """Forget the failures the path `source` recorded against `keys` (call it with the account,
        not with a shared address). Failures of other paths and a lock in force stay."""
        if not self._entries:
            return
        now = self._clock()
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None:
                    continue
                entry.failures = deque(f for f in entry.failures if f[1] != source)
                if not entry.failures and entry.locked_until <= now:
                    del self._entries[key]

    def failures(self, key: str) -> int:
        """Failures of `key` within the window (0 for a key that is only locked)."""
        if not self._entries:
            return 0
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            return 0 if entry is None else sum(1 for f in entry.failures if f[0] > now - self.window)

    def _limit(self, key: str) -> int:
        return self.address_max_failures if key.startswith("addr:") else self.max_failures

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, now: float) -> None:
        if len(self._entries) <= self.max_keys:
            return
        stale = [k for k, e in self._entries.items()
                 if e.locked_until <= now and (not e.failures or e.failures[-1][0] <= now - self.window)]
        for key in stale:
            del self._entries[key]
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    nets: list[IPNetwork] = []
    for item in trusted:
        try:
            nets.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue                              # a bad entry trusts nothing
    return tuple(nets)


def _trusted(address: str, nets: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in nets)


@lru_cache(maxsize=4096)
def address_key(address: str) -> str:
    """The throttle key of a client address. IPv6 clients count per /64: one host owns a whole
    /64 and could otherwise rotate through it to dodge the limit (CVE-2021-22915)."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return f"addr:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"addr:{ip}"


# Request key: the client's address as a node of this instance that forwarded the request
# determined it, set only once the node's signature over it was verified (runtime/forward.py).
FORWARDED_CLIENT = "ocis_forwarded_client"


def client_address(request: Any, trusted_proxies: Iterable[str] = ()) -> str:
    """The caller's address. X-Forwarded-For is read right to left, and only while each hop is a
    trusted proxy: the first untrusted hop is the client (an untrusted peer cannot forge it).
    A request another node of the instance forwarded (signed): the client that node saw."""
    vouched = getattr(request, "get", None)
    if vouched is not None and isinstance(vouched(FORWARDED_CLIENT), str):
        return str(vouched(FORWARDED_CLIENT))
    peer = str(getattr(request, "remote", None) or "")
    nets = _networks(tuple(trusted_proxies))
    if not nets or not _trusted(peer, nets):
        return peer
    forwarded = [h.strip() for v in request.headers.getall("X-Forwarded-For", ())
                 for h in v.split(",") if h.strip()]
    address = peer
    for hop in reversed(forwarded):
        address = hop
        if not _trusted(hop, nets):
            break
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return peer                               # garbage in the header: fall back to the peer

