"""The supervisor: starts units group by group, waits for each to be ready, and keeps them running.

Two kinds of failure, two policies (docs/operations.md):
- **Outside**: what a unit depends on is away (out of descriptors, a full or read-only disk, an
  LDAP server that hangs): `ServiceUnavailable`, an `OSError` (time-outs included) or SQLite's
  OperationalError. The unit is *degraded*: its requests answer 503 with Retry-After, the
  supervisor re-checks it (or, if it never started, starts it again) with capped backoff, forever,
  and it is ready again as soon as the outside is back. The process never gives up because of it.
- **A bug** (anything else): the unit is stopped and restarted with exponential backoff; after
  `max_failures` consecutive ones the supervisor gives up and the runtime exits 1, with the reason
  as its last log line.

States follow oCIS' vocabulary plus one: starting, ready, degraded, failed, stopped (with a restart
count and the time of the last change), as reported by the control API and `ocis list`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ocis_server.domain.errors import ServiceUnavailable

from .units import Unit

log = logging.getLogger("ocis.runtime")
MAX_BACKOFF = 60.0
STABLE_AFTER = 60.0       # a unit ready this long has its failure count reset
START_TIMEOUT = 60.0
CHECK_TIMEOUT = 5.0


class State(str, Enum):
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"     # up, but what it depends on is away: 503 until it is back
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(slots=True)
class Status:
    name: str
    group: int
    state: State = State.STOPPED
    restarts: int = 0
    failures: int = 0          # consecutive; reset once the unit has been stable
    since: float = 0.0         # unix time of the last state change
    error: str = ""

    def set(self, state: State, error: str = "") -> None:
        if state is not self.state or error != self.error:
            self.since = time.time()
        self.state, self.error = state, error

    def as_json(self) -> dict[str, object]:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since)) if self.since else ""
        return {"name": self.name, "state": self.state.value, "group": self.group,
                "restarts": self.restarts, "since": since, "error": self.error}


class GaveUp(Exception):
    """A unit failed too often because of a bug; the runtime must exit non-zero."""


def is_outside(exc: BaseException) -> bool:
    """True when `exc` says something outside our code failed (see the module docstring)."""
    return isinstance(exc, (ServiceUnavailable, OSError, sqlite3.OperationalError))


class Supervisor:
    def __init__(self, units: Sequence[Unit], *, backoff: float, max_failures: int,
                 max_backoff: float = MAX_BACKOFF) -> None:
        self.units = sorted(units, key=lambda u: u.spec.group)     # stable: table order per group
        self.status = {u.spec.name: Status(u.spec.name, u.spec.group) for u in self.units}
        self._backoff = backoff
        self._max_backoff = max(backoff, max_backoff)
        self._max_failures = max(1, max_failures)
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self.gave_up = asyncio.Event()
        self.failure: str = ""

    def delay(self, failures: int) -> float:
        """Backoff before the restart after the n-th consecutive failure: base * 2**(n-1)."""
        return float(min(self._max_backoff, self._backoff * 2 ** max(0, min(failures - 1, 30))))

    async def start(self) -> None:
        """Start every unit in group order; each group is ready (or degraded) before the next
        starts. A unit degraded at start is retried in the background; the others go on."""
        for unit in self.units:
            outcome = await self._start_with_retries(unit)
            if outcome is State.FAILED:
                raise GaveUp(self.failure)
            self._watchers[unit.spec.name] = asyncio.create_task(
                self._watch(unit, started=outcome is not State.STOPPED),
                name=f"watch-{unit.spec.name}")

    async def _start_once(self, unit: Unit) -> State:
        """READY; STOPPED when the start met an outside failure (degraded, to be retried);
        FAILED when it met a bug. A unit that starts but finds the outside lacking (a read-only
        data folder) says so from its first run() or check()."""
        status = self.status[unit.spec.name]
        status.set(State.STARTING)
        try:
            await asyncio.wait_for(unit.start(), START_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a service is contained here
            await self._quiet_stop(unit)
            if is_outside(exc):
                self._degrade(unit, f"cannot start: {_describe(exc)}")
                return State.STOPPED
            log.error("service %s failed to start: %s", unit.spec.name, _describe(exc))
            status.set(State.FAILED, _describe(exc))
            return State.FAILED
        status.set(State.READY)
        log.info("service %s ready", unit.spec.name)
        return State.READY

    async def _probe(self, unit: Unit) -> str | None:
        """None when the unit's check passes, why when it meets an outside failure; a bug
        in the check propagates."""
        try:
            await asyncio.wait_for(unit.check(), CHECK_TIMEOUT)
        except Exception as exc:
            if is_outside(exc):
                return _describe(exc)
            raise
        return None

    def _degrade(self, unit: Unit, why: str) -> None:
        status = self.status[unit.spec.name]
        if status.state is not State.DEGRADED or status.error != why:
            log.warning("service %s degraded: %s (requests that need what it lacks answer 503 "
                        "with Retry-After meanwhile)", unit.spec.name, why)
        status.set(State.DEGRADED, why)

    async def _start_with_retries(self, unit: Unit) -> State:
        """Starts until READY or an outside failure (STOPPED: degraded, the watcher retries);
        FAILED once a bug has happened `max_failures` times in a row."""
        status = self.status[unit.spec.name]
        while True:
            outcome = await self._start_once(unit)
            if outcome is not State.FAILED:
                return outcome
            if not await self._count_failure(unit):
                return State.FAILED
            status.restarts += 1

    async def _count_failure(self, unit: Unit) -> bool:
        """Record one failure; sleep the backoff and return True, or give up and return False."""
        status = self.status[unit.spec.name]
        status.failures += 1
        if status.failures >= self._max_failures:
            self.failure = (f"service {unit.spec.name} failed {status.failures} times "
                            f"(last: {status.error}); giving up")
            log.critical(self.failure)
            self.gave_up.set()
            return False
        wait = self.delay(status.failures)
        log.warning("restarting %s in %.2fs (failure %d of %d)", unit.spec.name, wait,
                    status.failures, self._max_failures)
        await asyncio.sleep(wait)
        return True

    async def _recover(self, unit: Unit, *, started: bool) -> State:
        """While degraded: re-check an open unit (or start one that could not start) with capped
        backoff until it is READY, forever; FAILED when a bug shows up instead."""
        status = self.status[unit.spec.name]
        attempt = 0
        while True:
            attempt += 1
            await asyncio.sleep(self.delay(attempt))
            if not started:
                status.restarts += 1
                outcome = await self._start_with_retries(unit)
                if outcome is State.FAILED:
                    return outcome
                started = outcome is not State.STOPPED
                if outcome is State.READY:
                    log.info("service %s recovered", unit.spec.name)
                    return outcome
                continue
            try:
                problem = await self._probe(unit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug in the check: the crash path
                status.set(State.FAILED, _describe(exc))
                return State.FAILED
            if problem is None:
                status.set(State.READY)
                log.info("service %s recovered", unit.spec.name)
                return State.READY
            self._degrade(unit, problem)

    async def _watch(self, unit: Unit, *, started: bool) -> None:
        status = self.status[unit.spec.name]
        while True:
            if status.state is State.DEGRADED:
                outcome = await self._recover(unit, started=started)
                if outcome is State.FAILED:       # a bug showed up while it was degraded
                    if self.gave_up.is_set():
                        return
                    log.error("service %s failed: %s", unit.spec.name, status.error)
                    outcome = await self._restart_after_bug(unit)
                    if outcome is State.FAILED:
                        return
                started = outcome is not State.STOPPED
                continue
            began = time.monotonic()
            try:
                await unit.run()
                error = "exited unexpectedly"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a crash, whatever its type
                if is_outside(exc):
                    self._degrade(unit, _describe(exc))
                    started = True
                    continue
                error = _describe(exc)
            log.error("service %s crashed: %s", unit.spec.name, error)
            if time.monotonic() - began > STABLE_AFTER:
                status.failures = 0
            status.set(State.FAILED, error)
            outcome = await self._restart_after_bug(unit)
            if outcome is State.FAILED:
                return
            started = outcome is not State.STOPPED

    async def _restart_after_bug(self, unit: Unit) -> State:
        """Stop, back off, start again: the outcome of the start (FAILED once given up)."""
        status = self.status[unit.spec.name]
        await self._quiet_stop(unit)
        if not await self._count_failure(unit):
            return State.FAILED
        status.restarts += 1
        return await self._start_with_retries(unit)

    async def _quiet_stop(self, unit: Unit) -> None:
        try:
            await unit.stop()
        except Exception as exc:  # noqa: BLE001 - stopping a broken unit must not stop the rest
            log.warning("stopping %s: %s", unit.spec.name, _describe(exc))

    async def stop(self) -> None:
        """Stop watchers, then units in reverse start order (proxy first, storage last)."""
        for task in self._watchers.values():
            task.cancel()
        await asyncio.gather(*self._watchers.values(), return_exceptions=True)
        self._watchers.clear()
        for unit in reversed(self.units):
            status = self.status[unit.spec.name]
            await self._quiet_stop(unit)      # idempotent; also releases what a failed start held
            if status.state is State.STOPPED or (status.state is State.FAILED and self.gave_up.is_set()):
                continue
            status.set(State.STOPPED)
            log.info("service %s stopped", unit.spec.name)

    async def check(self, unit: Unit) -> str:
        """"ok"; "degraded: why" while an outside failure lasts; or why the unit is unhealthy
        (not ready, or its own check failed)."""
        status = self.status[unit.spec.name]
        if status.state is State.DEGRADED:
            return f"degraded: {status.error}"
        if status.state is not State.READY:
            return str(status.state.value) + (f": {status.error}" if status.error else "")
        try:
            await asyncio.wait_for(unit.check(), CHECK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failed check means unhealthy
            return f"degraded: {_describe(exc)}" if is_outside(exc) else _describe(exc)
        return "ok"

    async def health(self) -> dict[str, str]:
        results = await asyncio.gather(*(self.check(u) for u in self.units))
        return {u.spec.name: result for u, result in zip(self.units, results)}

    def unit(self, name: str) -> Unit | None:
        return next((u for u in self.units if u.spec.name == name), None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ServiceUnavailable):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:     # the same words each time, no file name
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
