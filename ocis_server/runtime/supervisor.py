"""The supervisor: starts units group by group, waits for each to be ready, restarts a crashed unit
with exponential backoff, gives up after too many consecutive failures, and stops in reverse order.

States follow oCIS' vocabulary: starting, ready, failed, stopped (with a restart count and the time
of the last change), as reported by the control API and `ocis list`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from .units import Unit

log = logging.getLogger("ocis.runtime")
MAX_BACKOFF = 60.0
STABLE_AFTER = 60.0       # a unit ready this long has its failure count reset
START_TIMEOUT = 60.0
CHECK_TIMEOUT = 5.0


class State(str, Enum):
    STARTING = "starting"
    READY = "ready"
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
        self.state, self.error, self.since = state, error, time.time()

    def as_json(self) -> dict[str, object]:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since)) if self.since else ""
        return {"name": self.name, "state": self.state.value, "group": self.group,
                "restarts": self.restarts, "since": since, "error": self.error}


class GaveUp(Exception):
    """A unit failed too often; the runtime must exit non-zero."""


class Supervisor:
    def __init__(self, units: Sequence[Unit], *, backoff: float, max_failures: int) -> None:
        self.units = sorted(units, key=lambda u: u.spec.group)     # stable: table order per group
        self.status = {u.spec.name: Status(u.spec.name, u.spec.group) for u in self.units}
        self._backoff = backoff
        self._max_failures = max(1, max_failures)
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self.gave_up = asyncio.Event()
        self.failure: str = ""

    def delay(self, failures: int) -> float:
        """Backoff before the restart after the n-th consecutive failure: base * 2**(n-1)."""
        return float(min(MAX_BACKOFF, self._backoff * 2 ** max(0, failures - 1)))

    async def start(self) -> None:
        """Start every unit in group order; each group is ready before the next starts."""
        for unit in self.units:
            if not await self._start_with_retries(unit):
                raise GaveUp(self.failure)
            self._watchers[unit.spec.name] = asyncio.create_task(
                self._watch(unit), name=f"watch-{unit.spec.name}")

    async def _start_once(self, unit: Unit) -> bool:
        status = self.status[unit.spec.name]
        status.set(State.STARTING)
        try:
            await asyncio.wait_for(unit.start(), START_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a service is contained here
            log.error("service %s failed to start: %s", unit.spec.name, _describe(exc))
            await self._quiet_stop(unit)
            status.set(State.FAILED, _describe(exc))
            return False
        status.set(State.READY)
        log.info("service %s ready", unit.spec.name)
        return True

    async def _start_with_retries(self, unit: Unit) -> bool:
        status = self.status[unit.spec.name]
        while not await self._start_once(unit):
            if not await self._count_failure(unit):
                return False
            status.restarts += 1
        return True

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

    async def _watch(self, unit: Unit) -> None:
        status = self.status[unit.spec.name]
        while True:
            started = time.monotonic()
            try:
                await unit.run()
                error = "exited unexpectedly"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a crash, whatever its type
                error = _describe(exc)
            log.error("service %s crashed: %s", unit.spec.name, error)
            if time.monotonic() - started > STABLE_AFTER:
                status.failures = 0
            status.set(State.FAILED, error)
            await self._quiet_stop(unit)
            if not await self._count_failure(unit):
                return
            status.restarts += 1
            if not await self._start_with_retries(unit):
                return

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
        """"ok", or why the unit is unhealthy (not ready, or its own check failed)."""
        status = self.status[unit.spec.name]
        if status.state is not State.READY:
            return str(status.state.value) + (f": {status.error}" if status.error else "")
        try:
            await asyncio.wait_for(unit.check(), CHECK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failed check means unhealthy
            return _describe(exc)
        return "ok"

    async def health(self) -> dict[str, str]:
        results = await asyncio.gather(*(self.check(u) for u in self.units))
        return {u.spec.name: result for u, result in zip(self.units, results)}

    def unit(self, name: str) -> Unit | None:
        return next((u for u in self.units if u.spec.name == name), None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
