"""A real `ocis server` with its event bus and registry on NATS (OCIS_EVENTS_ENDPOINT,
MICRO_REGISTRY=nats-js-kv) across a kill -9 and restart of nats-server (same store): uploads keep
working while NATS is away, their events are kept by the server and reach a durable consumer
group of another process and the server's own SSE stream once NATS is back (none lost), the
server's consumers go on with what comes after, and its services are registered again."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from ocis_server.events.jetstream import JetStreamBus
from tests.conftest import launch_real_server
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from tests.sse_helpers import SseReader
from tests.test_registry_nats import kv_keys, listed

pytestmark = pytest.mark.scaleout
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")


async def uploaded_paths(consumer: object, want: set[str], timeout: float) -> set[str]:
    """Paths of the FileUploaded events the consumer gets (acked) until `want` are all seen."""
    seen: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not want <= seen and loop.time() < deadline:
        delivery = await consumer.fetch(1.0)  # type: ignore[attr-defined]
        if delivery is not None:
            if delivery.event.type == "FileUploaded":
                seen.add(delivery.event.path)
            consumer.ack(delivery.seq)  # type: ignore[attr-defined]
    return seen


async def sse_etags(sse: SseReader, count: int, timeout: float) -> list[str]:
    etags = []
    while len(etags) < count:
        message = await sse.next(timeout)
        if message.event == "postprocessing-finished":
            etags.append(message.data["etag"])
    return etags


async def test_nats_restart_nothing_lost_consumers_resume_services_reregister(
        nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    env = {"OCIS_EVENTS_ENDPOINT": nats_server.address, "MICRO_REGISTRY": "nats-js-kv",
           "MICRO_REGISTRY_ADDRESS": nats_server.address, "EXPERIMENTAL_REGISTER_TTL": "2",
           "EXPERIMENTAL_REGISTER_INTERVAL": "0.5", "STORAGE_USERS_HTTP_ADDR": "127.0.0.1:0"}
    audit_bus = JetStreamBus(nats_server.address, max_backoff=0.5)   # another process's group
    await audit_bus.start()
    assert await audit_bus.wait_connected(10)
    audit = audit_bus.consume("audit")
    try:
        with launch_real_server(tmp_path / "srv", env) as server:
            dav = f"{server.url}/remote.php/dav/files/einstein"
            async with aiohttp.ClientSession() as web, \
                    SseReader(server.url, "einstein", "relativity") as sse:
                async def put(name: str) -> str:
                    async with web.put(f"{dav}/{name}", data=name.encode(), auth=EINSTEIN,
                                       timeout=aiohttp.ClientTimeout(total=10)) as answer:
                        assert answer.status == 201, await answer.text()
                        return answer.headers["ETag"]

                before = await put("before.txt")
                assert await sse_etags(sse, 1, 10) == [before]
                assert "/before.txt" in await uploaded_paths(audit, {"/before.txt"}, 10)

                nats_server.stop(signal.SIGKILL)
                away = [await put("away-1.txt"), await put("away-2.txt")]   # not blocked
                node = next(r["node"] for r in await asyncio.to_thread(listed, server))
                await asyncio.sleep(1.5)
                nats_server.start()                                  # same port, same store

                # what was published while NATS was away reaches both groups, in order
                assert await sse_etags(sse, 2, 30) == away, server.log_tail()
                got = await uploaded_paths(audit, {"/away-1.txt", "/away-2.txt"}, 30)
                assert {"/away-1.txt", "/away-2.txt"} <= got
                after = await put("after.txt")                        # and they go on
                assert await sse_etags(sse, 1, 15) == [after]
                assert "/after.txt" in await uploaded_paths(audit, {"/after.txt"}, 15)

            loop = asyncio.get_running_loop()                         # registered again
            deadline = loop.time() + 15
            while f"ocdav.{node}" not in await kv_keys(nats_server.url):
                assert loop.time() < deadline, "services not registered again"
                await asyncio.sleep(0.3)
            health = server.ocis("health")
            assert health.returncode == 0, health.stdout + health.stderr
    finally:
        audit.close()
        await audit_bus.close()
