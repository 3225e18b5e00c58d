"""Finding a service through the registry: `Lookup.addresses(service)` gives the addresses of its
live instances on other nodes, in round-robin order (each call starts one further), from a list
read from the registry at most every `ttl` seconds. An address a caller found dead (`dead()`)
goes to the end of the list for `dead_for` seconds (by default the registry's TTL, so that a node
killed with kill -9 has left the registry before it is tried first again): the others are tried
before it, and it is tried only when none of them answers. While the registry cannot be read
(NATS restarting) the last list read stays in use.

Used by the proxy for HTTP services that do not run in its process; anything else that needs a
service of another node (a storage provider's internal address) calls the same."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .registry import Entry, Registry

USABLE = frozenset({"ready", "degraded"})    # states that take requests (degraded: 503 itself)


class Lookup:
    def __init__(self, registry: Registry, *, node: str = "", ttl: float = 3.0,
                 dead_for: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry, self.node, self.ttl, self._clock = registry, node, ttl, clock
        self.dead_for = dead_for
        self._entries: list[Entry] = []
        self._read_at = float("-inf")
        self._dead: dict[str, float] = {}       # address -> when it was found dead
        self._turn: dict[str, int] = {}         # service -> next round-robin start
        self._lock = asyncio.Lock()

    async def _fresh(self) -> list[Entry]:
        if self._clock() - self._read_at < self.ttl:
            return self._entries
        async with self._lock:
            if self._clock() - self._read_at >= self.ttl:
                entries = await self.registry.entries()
                if getattr(self.registry, "reachable", True) or not self._entries:
                    self._entries = entries      # NATS away: the last list it gave stays
                self._read_at = self._clock()
        return self._entries

    async def instances(self, service: str) -> list[Entry]:
        """The live instances of `service` on other nodes (not this one: a node never forwards
        to itself), round robin, those found dead lately at the end."""
        now = self._clock()
        self._dead = {a: t for a, t in self._dead.items() if now - t < self.dead_for}
        found = [e for e in await self._fresh()
                 if e.name == service and e.node != self.node and e.state in USABLE
                 and e.address]
        found.sort(key=lambda e: (e.address, e.node))
        live = [e for e in found if e.address not in self._dead]
        if live:
            turn = self._turn.get(service, 0) % len(live)
            self._turn[service] = turn + 1
            live = live[turn:] + live[:turn]
        return live + [e for e in found if e.address in self._dead]

    async def addresses(self, service: str) -> list[str]:
        return [e.address for e in await self.instances(service)]

    def dead(self, address: str) -> None:
        """`address` did not answer: the others first, for `dead_for` seconds."""
        self._dead[address] = self._clock()


async def lookup(registry: Registry, service: str, *, node: str = "") -> list[str]:
    """One-off: the addresses of `service`'s live instances (not on `node`), no cache."""
    return await Lookup(registry, node=node, ttl=0.0).addresses(service)
