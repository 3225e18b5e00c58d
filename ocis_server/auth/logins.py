"""The login throttle every password path shares: HTTP Basic at the proxy ("basic"), the IdP
login form ("idp"), LDAP binds and password changes of idm ("ldap"), Graph /me/changePassword
("graph") and public-link passwords ("link"). It stops guessers without handing them a way to
lock the owner out (five wrong passwords from anywhere used to lock an account everywhere).

An attempt names an `account` (`user:<login name, lowercased>`, `link:<token>`, `ldap:<dn>`) and
the client's `address` (`addr:<ip>`, IPv6 per /64; throttle.address_key). The rules:
- Hard, per (account, address): `max_failures` failures within `window` lock that pair; the
  address alone locks after `address_max_failures` (password spraying over many accounts). A
  locked pair or address gets 429 before any password is looked at, even the right one.
- Soft, per account: past `max_failures` failures on the account from all addresses together,
  every attempt on it waits `delay * 2**(n - max_failures)` seconds, at most `max_delay`, before
  its password is checked (asyncio.sleep: the loop keeps serving). At most `max_waiting` attempts
  wait at once; past that a client whose address never failed goes on without waiting, and one
  that failed gets 429. So a botnet costs the owner a few seconds at most, never access.
- A right password from a pair makes that pair trusted for `window`: a sync client signing in
  with its password on every request waits once, not on each request.
- Only a right password counts as a success: app tokens and bearer tokens never pass through here
  (auth/principal.py checks them first), so failures on an account cannot stop them.
In memory, per process, bounded by `max_keys` per table. With OCIS_DATABASE_URL the failures are
also written to PostgreSQL (`shared`, auth/pgfailures.py) and every node reads them back before it
checks a password, replaying them through the same rule: N front nodes give a guesser the budget
of one. A pair this node trusts (a right password from it within the window) is not read back, so
a sync client's password on every request costs no database round trip; only its first sign-in in
a window and every failure do (docs/scaling.md has the measured cost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ocis_server.domain.errors import TooManyRequests

from .throttle import Throttle


log = logging.getLogger(__name__)


class SharedFailures(Protocol):
    """Where the nodes' failures meet (auth/pgfailures.py): rows (account, address, source,
    wall-clock time, cleared)."""

    async def load(self, account: str, address: str,
                   since: float) -> Sequence[tuple[str, str, str, float, bool]]: ...

    async def add(self, account: str, address: str, source: str, at: float,
                  forget_before: float) -> None: ...

    async def clear(self, account: str, address: str, source: str) -> None: ...

    async def close(self) -> None: ...


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window: float = 300.0, *,
                 address_max_failures: int | None = None, delay: float = 0.25,
                 max_delay: float = 3.0, max_waiting: int = 256, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 shared: SharedFailures | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        if max_waiting < 0 or delay < 0 or max_delay < 0:
            raise ValueError("delay, max_delay and max_waiting must not be negative")
        self.hard = Throttle(max_failures, window, address_max_failures=address_max_failures,
                             max_keys=max_keys, clock=clock)
        self.delay, self.max_delay, self.max_waiting = delay, max_delay, max_waiting
        self.waiting = 0                  # attempts asleep in `admit` right now
        self._clock, self._sleep = clock, sleep
        self._accounts: OrderedDict[str, deque[float]] = OrderedDict()   # account -> failure times
        self._trusted: OrderedDict[str, float] = OrderedDict()          # pair -> last success
        self.shared, self._wall = shared, wall
        self._pending: set[asyncio.Task[None]] = set()      # clears not yet written

    @property
    def max_failures(self) -> int:
        return self.hard.max_failures

    @property
    def address_max_failures(self) -> int:
        return self.hard.address_max_failures

    @property
    def window(self) -> float:
        return self.hard.window

    @staticmethod
    def pair(account: str, address: str) -> str:
        return f"{account}|{address}"

    # --- before a password is checked ---------------------------------------------------------
    def check(self, account: str, address: str) -> None:
        """TooManyRequests while the pair or the address is locked."""
        self.hard.check(self.pair(account, address), address)

    def locked(self, account: str, address: str) -> bool:
        return self.hard.locked(self.pair(account, address), address)

    def admits_at_once(self, account: str, address: str) -> bool:
        """True when `admit` would let this pair in at once: it signed in with its password
        within the window and neither it nor the address is locked (the replay lane's check,
        runtime/replay.py; anything else goes through `admit`)."""
        pair = self.pair(account, address)
        return self._is_trusted(pair) and not self.hard.locked(pair, address)

    def delay_for(self, account: str) -> float:
        """Seconds an attempt on `account` waits now (0 below `max_failures` recent failures)."""
        times = self._accounts.get(account)
        if not times:
            return 0.0
        now = self._clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        excess = len(times) - self.max_failures
        if excess < 0:
            return 0.0
        return min(self.max_delay, self.delay * 2.0 ** min(excess, 32))

    async def admit(self, account: str, address: str) -> None:
        """Call before checking a password: raises TooManyRequests (pair or address locked, or
        the waiting room full for a client that failed), else waits the account's delay."""
        pair = self.pair(account, address)
        if self._is_trusted(pair):
            self.hard.check(pair, address)
            return
        if self.shared is not None:
            await self._load(account, address)
        self.hard.check(pair, address)
        wait = self.delay_for(account)
        if wait <= 0:
            return
        if self.waiting >= self.max_waiting:
            if self.hard.failures(address) == 0:
                return          # a client that never failed is not turned away by a crowd
            raise TooManyRequests("too many sign-ins are waiting, try again later",
                                  retry_after=wait)
        self.waiting += 1
        try:
            await self._sleep(wait)
        finally:
            self.waiting -= 1
        self.hard.check(pair, address)     # a failure from the same pair may have locked it meanwhile

    async def _load(self, account: str, address: str) -> None:
        """Replace this node's counts for the pair, the address and the account by the rows every
        node wrote (their times mapped from the wall clock onto this throttle's clock)."""
        assert self.shared is not None
        offset = self._clock() - self._wall()
        rows = await self.shared.load(account, address,
                                      self._wall() - self.window - self.hard.lockout)
        self.hard.replace(self.pair(account, address),
                          ((at + offset, src) for acc, addr, src, at, cleared in rows
                           if acc == account and addr == address and not cleared))
        self.hard.replace(address, ((at + offset, src) for _, addr, src, at, _ in rows
                                    if addr == address))
        times = deque(at + offset for acc, _, _, at, _ in rows if acc == account)
        self._accounts.pop(account, None)
        if times:
            self._accounts[account] = times
            self._bound(self._accounts)

    # --- after it was checked ------------------------------------------------------------------
    async def failed(self, account: str, address: str, *, source: str) -> None:
        """A wrong password: counted here and, with `shared`, written for every node before the
        caller answers (so the next attempt, on any node, sees it)."""
        self.failure(account, address, source=source)
        if self.shared is not None:
            now = self._wall()
            await self.shared.add(account, address, source, now,
                                  now - self.window - self.hard.lockout)

    def failure(self, account: str, address: str, *, source: str) -> None:
        now = self._clock()
        pair = self.pair(account, address)
        self.hard.failure(pair, address, source=source)
        times = self._accounts.pop(account, None) or deque()
        self._accounts[account] = times           # most recently failed last
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        while len(times) > self.max_failures + 40:   # far past the delay cap: keep it small
            times.popleft()
        self._trusted.pop(pair, None)
        self._bound(self._accounts)

    def success(self, account: str, address: str, *, source: str) -> None:
        """A right password: forget the failures `source` recorded for this pair and trust the
        pair for a window. The account's failures from elsewhere stay (they are not the owner's),
        and a lock in force stays: only time lifts it."""
        pair = self.pair(account, address)
        if self.shared is not None and self.hard.failures(pair):
            # Rare (a right password after wrong ones): cleared in the background, the answer
            # does not wait. Lost when the database is away: the rows then still count, stricter.
            task = asyncio.get_running_loop().create_task(
                self.shared.clear(account, address, source))
            self._pending.add(task)
            task.add_done_callback(self._written)
        self.hard.success(pair, source=source)
        self._trusted.pop(pair, None)
        self._trusted[pair] = self._clock()
        self._bound(self._trusted)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("login failures not cleared in the database: %s", task.exception())

    async def close(self) -> None:
        for task in list(self._pending):
            await asyncio.gather(task, return_exceptions=True)
        if self.shared is not None:
            await self.shared.close()

    def _is_trusted(self, pair: str) -> bool:
        since = self._trusted.get(pair)
        if since is None:
            return False
        if since <= self._clock() - self.window:
            del self._trusted[pair]
            return False
        return True

    def _bound(self, table: OrderedDict[str, Any]) -> None:
        while len(table) > self.hard.max_keys:
            table.popitem(last=False)

    def __len__(self) -> int:
        return len(self.hard) + len(self._accounts) + len(self._trusted)


def login_throttle(config: Any, shared: SharedFailures | None = None) -> LoginThrottle:
    """The process's one login throttle from PROXY_LOGIN_MAX_FAILURES (per account and address,
    and where the account's delay starts), PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS,
    PROXY_LOGIN_FAILURE_WINDOW (also the lockout), PROXY_LOGIN_FAILURE_DELAY,
    PROXY_LOGIN_FAILURE_MAX_DELAY and PROXY_LOGIN_MAX_WAITING; shared by every node through
    PostgreSQL with OCIS_DATABASE_URL; `shared`: where else failures meet (the workers of one
    node: sqlitefailures.py)."""
    if config.database_url:
        from .pgfailures import PostgresFailures      # psycopg only when configured

        shared = PostgresFailures(config.database_url)
    return LoginThrottle(max(1, int(config.login_max_failures)),
                         max(1.0, float(config.login_failure_window)),
                         address_max_failures=max(1, int(config.login_max_failures_per_address)),
                         delay=max(0.0, float(config.login_failure_delay)),
                         max_delay=max(0.0, float(config.login_failure_max_delay)),
                         max_waiting=max(0, int(config.login_max_waiting)), shared=shared)
