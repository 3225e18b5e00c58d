"""The service registry on NATS JetStream KV (MICRO_REGISTRY=nats-js-kv): a real `ocis server`
registers its services; `ocis list -o json` shows them with node and address, and also what another
node registered, until that node stops renewing; the server registers again after NATS restarts."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import nats
import pytest

from ocis_server.registry import Entry
from ocis_server.registry.natskv import BUCKET, NatsKvRegistry
from tests.conftest import RealServer, launch_real_server
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.scaleout
TTL, INTERVAL = 2.0, 0.5


def listed(server: RealServer) -> list[dict[str, Any]]:
    result = server.ocis("list", "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


async def until(check: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(check):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.3)


async def kv_keys(url: str) -> set[str]:
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value(BUCKET)
        try:
            return set(await kv.keys())
        except nats.js.errors.NoKeysError:
            return set()
    finally:
        await nc.close()


async def test_services_register_renew_and_disappear(
        nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    env = {"MICRO_REGISTRY": "nats-js-kv", "MICRO_REGISTRY_ADDRESS": nats_server.address,
           "EXPERIMENTAL_REGISTER_TTL": str(TTL), "EXPERIMENTAL_REGISTER_INTERVAL": str(INTERVAL),
           "STORAGE_USERS_HTTP_ADDR": "127.0.0.1:0"}
    with launch_real_server(tmp_path / "srv", env) as server:
        rows = listed(server)
        own = {r["name"]: r for r in rows}
        assert {"proxy", "ocdav", "storage-users"} <= set(own)
        node = own["proxy"]["node"]
        assert node and all(r["node"] == node for r in rows)
        assert own["ocdav"]["address"] == server.url and own["ocdav"]["state"] == "ready"
        await until(lambda: f"proxy.{node}" in asyncio.run(kv_keys(nats_server.url)))

        # a node that stops cleanly deletes its keys: gone at once, and not a failure
        clean = NatsKvRegistry(nats_server.address, ttl=TTL, interval=INTERVAL)
        await clean.start(lambda: [Entry("graph", "node-c", "http://10.0.0.3:9200", "ready")])
        await until(lambda: any(r["node"] == "node-c" for r in listed(server)))
        await clean.close()
        assert not any(r["node"] == "node-c" for r in await asyncio.to_thread(listed, server))
        health = await asyncio.to_thread(server.ocis, "health")
        assert health.returncode == 0, health.stdout + health.stderr

        # another node (a storage provider elsewhere) registers, then dies without a word
        other = NatsKvRegistry(nats_server.address, ttl=TTL, interval=INTERVAL)
        await other.start(lambda: [Entry("storage-users", "node-b", "http://10.0.0.2:9200",
                                         "ready")])
        await until(lambda: any(r["node"] == "node-b" for r in listed(server)))
        # (the CLI runs in a thread: this loop must keep renewing node-b meanwhile)
        rows_b = await asyncio.to_thread(listed, server)
        row = next(r for r in rows_b if r["node"] == "node-b")
        assert (row["name"], row["address"], row["state"]) == \
            ("storage-users", "http://10.0.0.2:9200", "ready")
        assert other._task is not None and other._nc is not None
        other._task.cancel()                  # killed: no renewal, no goodbye
        await other._nc.close()
        await until(lambda: not any(r["node"] == "node-b" for r in listed(server)), TTL * 5)
        health = await asyncio.to_thread(server.ocis, "health")     # it stopped renewing
        assert health.returncode == 1 and "storage-users@node-b" in health.stderr, health.stderr

        # NATS restarts with an empty store: the server's renewals put it back
        nats_server.stop(signal.SIGKILL)
        for path in sorted((nats_server.store / "js").rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        nodes = [r["node"] for r in await asyncio.to_thread(listed, server)]
        assert nodes == [node] * len(rows)          # NATS away: its own services, at once
        nats_server.start()

        def back() -> bool:
            try:
                return f"ocdav.{node}" in asyncio.run(kv_keys(nats_server.url))
            except Exception:                 # noqa: BLE001 - bucket not there again yet
                return False
        await until(back, 20)
    # a clean stop deletes the node's keys at once (no wait for the TTL)
    assert not any(k.endswith(node) for k in await kv_keys(nats_server.url))
