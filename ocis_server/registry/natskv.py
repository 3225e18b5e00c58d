"""MICRO_REGISTRY=nats-js-kv: every node puts its service instances in the JetStream key-value
bucket `service-registry` (key `<service>.<node>`), again every EXPERIMENTAL_REGISTER_INTERVAL
seconds; the bucket forgets a key EXPERIMENTAL_REGISTER_TTL seconds after its last put, so a node
that stops renewing (killed, cut off) disappears from every node's list. A clean stop deletes its
keys at once. While NATS is away the node keeps trying and lists its own services only."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from .registry import Entries, Entry, Lost

log = logging.getLogger("ocis.registry")
BUCKET = "service-registry"


def _key(entry: Entry) -> str:
    return f"{entry.name}.{entry.node}"


class NatsKvRegistry:
    def __init__(self, address: str, *, ttl: float = 30.0, interval: float = 25.0,
                 timeout: float = 2.0) -> None:
        self.url = address if "://" in address else f"nats://{address}"
        self.ttl, self.interval, self.timeout = ttl, min(interval, ttl * 0.8), timeout
        self._local: Entries = list
        self._nc: NatsClient | None = None
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, tuple[Entry, float]] = {}   # other nodes' keys: entry, first seen
        self._lost: dict[str, Lost] = {}                  # ... that expired (no clean stop)
        self.reachable = True        # the last read of the bucket worked (else: own services only)

    async def start(self, local: Entries) -> None:
        self._local = local
        self._task = asyncio.create_task(self._renew(), name="registry-renew")

    async def _connect(self) -> KeyValue:
        if self._kv is None:
            if self._nc is None:
                self._nc = await nats.connect(
                    servers=[self.url], name="ocis-registry", connect_timeout=self.timeout,
                    allow_reconnect=True, max_reconnect_attempts=-1,
                    reconnect_time_wait=min(2.0, self.interval))
            js = self._nc.jetstream(timeout=self.timeout)
            try:
                self._kv = await js.key_value(BUCKET)
            except (NatsError, NoKeysError):
                self._kv = await js.create_key_value(
                    KeyValueConfig(bucket=BUCKET, history=1, ttl=self.ttl))
        return self._kv

    async def _renew(self) -> None:
        while True:
            try:
                kv = await asyncio.wait_for(self._connect(), self.timeout * 3)
                for entry in self._local():
                    await kv.put(_key(entry), json.dumps(entry.to_dict()).encode())
                await self.entries()        # notices other nodes' instances that stop renewing
            except (NatsError, OSError, TimeoutError) as exc:
                log.warning("registry: cannot renew at %s (%s)", self.url,
                            exc or type(exc).__name__)
                self._kv = None          # look the bucket up again (NATS may have lost it)
                if self._nc is not None and self._nc.is_closed:
                    self._nc = None
            await asyncio.sleep(self.interval)

    async def entries(self) -> list[Entry]:
        """Every node's live instances; this node's own (as they are now) when NATS is away."""
        local = {_key(e): e for e in self._local()}
        try:
            if self._nc is not None and self._nc.is_reconnecting:
                raise ConnectionError("reconnecting")      # do not wait for it: answer now
            kv = await asyncio.wait_for(self._connect(), self.timeout)
            found = await self._read(kv)
            await self._notice_losses(kv, {k: e for k, e in found.items() if k not in local})
        except (NatsError, OSError, TimeoutError, ValueError) as exc:
            self._kv = None
            if self.reachable:
                log.warning("registry at %s not readable (%s): own services only", self.url,
                            exc or type(exc).__name__)
            self.reachable = False
            return list(local.values())
        self.reachable = True
        found.update(local)            # this node's own state is the freshest
        return sorted(found.values(), key=lambda e: (e.name, e.node))

    async def _read(self, kv: KeyValue) -> dict[str, Entry]:
        try:
            keys = await asyncio.wait_for(kv.keys(), self.timeout)
        except NoKeysError:
            keys = []
        found: dict[str, Entry] = {}
        for key in keys:
            try:
                got = await asyncio.wait_for(kv.get(key), self.timeout)
            except (NatsError, NoKeysError):
                continue           # expired between keys() and get()
            if got.value:
                found[key] = Entry.from_dict(json.loads(got.value))
        return found

    async def _notice_losses(self, kv: KeyValue, others: dict[str, Entry]) -> None:
        """An instance seen before and gone now without deleting its key (a clean stop does)
        stopped renewing: it is lost until it registers again or another instance of the same
        service registers after it was lost."""
        now = time.time()
        for key in [k for k in self._seen if k not in others]:
            seen = self._seen.pop(key, None)       # (a concurrent read may have taken it)
            if seen is None:
                continue
            entry = seen[0]
            try:
                await asyncio.wait_for(kv.get(key), self.timeout)
                continue                                  # back meanwhile: seen next time
            except KeyNotFoundError as exc:
                if exc.op is not None:                    # a delete marker: a clean stop
                    continue
            log.warning("registry: %s on node %s stopped renewing (gone from the registry)",
                        entry.name, entry.node)
            self._lost[key] = Lost(entry, now)
        for key, entry in others.items():
            if key not in self._seen:
                self._seen[key] = (entry, now)
            self._lost.pop(key, None)
        for key, lost in list(self._lost.items()):
            if any(e.name == lost.entry.name and k in self._seen and k != key
                   and self._seen[k][1] >= lost.since
                   for k, e in others.items()):
                del self._lost[key]                       # replaced by a newer instance

    def lost(self) -> list[Lost]:
        """Instances of other nodes that stopped renewing (as of the last `entries()`)."""
        return sorted(self._lost.values(), key=lambda lost: (lost.entry.name, lost.entry.node))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._kv is not None and self._nc is not None and self._nc.is_connected:
            for entry in self._local():
                try:
                    await asyncio.wait_for(self._kv.delete(_key(entry)), self.timeout)
                except (NatsError, TimeoutError):
                    break
        if self._nc is not None and not self._nc.is_closed:
            try:
                await asyncio.wait_for(self._nc.close(), self.timeout)
            except (NatsError, TimeoutError):
                pass
