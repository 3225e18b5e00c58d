"""Several front nodes on one NATS (and one storage provider): a consumer group that keeps its work in the process (the SSE
streams of the clients connected to a node; the userlog's notifications unless they are in
PostgreSQL: tests/test_userlog_store.py) is consumed by every node on its own, so each node's
clients see every change; the other groups stay shared (each event to one member)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import nats
import pytest

from ocis_server.events import Event
from ocis_server.events.jetstream import NODE_GROUP_IDLE, STREAM, JetStreamBus
from ocis_server.runtime.eventbus import PER_NODE_GROUPS
from tests.conftest import free_port
from tests.kit.cluster import Node, registry_env, two_fronts
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from tests.sse_helpers import SseReader

EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")

pytestmark = pytest.mark.scaleout


@pytest.fixture
async def two_buses(nats_server: NatsServer) -> AsyncIterator[tuple[JetStreamBus, JetStreamBus]]:  # noqa: F811
    buses = (JetStreamBus(nats_server.address, node="front-a", per_node=PER_NODE_GROUPS),
             JetStreamBus(nats_server.address, node="front-b", per_node=PER_NODE_GROUPS))
    for bus in buses:
        await bus.start()
        assert await bus.wait_connected(10), nats_server.log_tail()
    yield buses
    for bus in buses:
        await bus.close()


async def taken(consumer: object, wait: float = 1.0) -> list[str]:
    got = []
    while (delivery := await consumer.fetch(wait)) is not None:  # type: ignore[attr-defined]
        got.append(delivery.event.item_id)
        consumer.ack(delivery.seq)  # type: ignore[attr-defined]
    return got


async def test_every_front_gets_every_event_of_its_own_groups(
        two_buses: tuple[JetStreamBus, JetStreamBus], nats_server: NatsServer) -> None:  # noqa: F811
    a, b = two_buses
    sse_a, sse_b = a.consume("clientlog"), b.consume("clientlog")
    shared_a, shared_b = a.consume("audit"), b.consume("audit")
    for consumer in (sse_a, sse_b, shared_a, shared_b):
        assert await consumer.fetch(0.3) is None          # the groups exist from now on
    a.publish(Event("FileUploaded", item_id=str(n)) for n in range(3))
    b.publish(Event("FileUploaded", item_id=str(n)) for n in range(3, 6))
    everything = [str(n) for n in range(6)]
    got_a, got_b = await asyncio.gather(taken(sse_a), taken(sse_b))
    assert sorted(got_a) == everything and sorted(got_b) == everything
    split = await asyncio.gather(taken(shared_a, 0.5), taken(shared_b, 0.5))
    assert sorted(split[0] + split[1]) == everything            # shared: each event once

    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().consumer_info(STREAM, "clientlog-front-a")
        assert info.config.inactive_threshold == pytest.approx(NODE_GROUP_IDLE)
        shared = await nc.jetstream().consumer_info(STREAM, "audit")
        assert not shared.config.inactive_threshold                # kept as long as the stream
    finally:
        await nc.close()
    for consumer in (sse_a, sse_b, shared_a, shared_b):
        consumer.close()


async def test_two_front_nodes_over_one_provider_and_one_nats(
        nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    """Two real `ocis server` processes, same ocis.toml, own data folders: A runs everything, B
    the front services without storage-users (it finds A's provider in the registry). A file or
    share made through one is there through the other at once, and an SSE client connected to B
    sees a change made through A."""
    registry = registry_env(nats_server, events=True) | {
        "STORAGE_USERS_HTTP_ADDR": f"127.0.0.1:{free_port()}"}
    a, b = two_fronts(tmp_path, registry)
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        async with aiohttp.ClientSession() as web, \
                SseReader(b.url, "einstein", "relativity") as sse_b:
            async def put(node: Node, name: str, body: bytes) -> str:
                async with web.put(f"{node.url}/remote.php/dav/files/einstein/{name}", data=body,
                                   auth=EINSTEIN) as answer:
                    assert answer.status == 201, await answer.text()
                    return answer.headers["ETag"]

            async def get(node: Node, name: str) -> bytes:
                async with web.get(f"{node.url}/remote.php/dav/files/einstein/{name}",
                                   auth=EINSTEIN) as answer:
                    assert answer.status == 200, await answer.text()
                    return await answer.read()

            etag = await put(a, "from-a.txt", b"written through A")
            assert await get(b, "from-a.txt") == b"written through A"
            while (message := await sse_b.next(15)).event != "postprocessing-finished":
                pass
            assert message.data["etag"] == etag              # B's client saw A's change
            await put(b, "from-b.txt", b"written through B")
            assert await get(a, "from-b.txt") == b"written through B"

            # a share made through B: marie sees it through A
            propfind = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                        b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop>'
                        b'</d:propfind>')
            async with web.request("PROPFIND", f"{b.url}/remote.php/dav/files/einstein/from-b.txt",
                                   data=propfind, headers={"Depth": "0"},
                                   auth=EINSTEIN) as answer:
                assert answer.status == 207
                found = re.search(r"<oc:fileid>([^<]+)</oc:fileid>", await answer.text())
            assert found is not None
            file_id = found.group(1)
            invite = {"recipients": [{"objectId": "f7fbf8c8-139b-4376-b307-cf0a8c2d0d9c",
                                      "@libre.graph.recipient.type": "user"}],
                      "roles": ["b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5"]}     # viewer
            async with web.post(f"{b.url}/graph/v1beta1/drives/{file_id.split('!')[0]}"
                                f"/items/{file_id}/invite", json=invite, auth=EINSTEIN) as answer:
                assert answer.status == 200, await answer.text()
            async with web.get(f"{a.url}/graph/v1beta1/me/drive/sharedWithMe",
                               auth=MARIE) as answer:
                assert answer.status == 200
                names = [i["remoteItem"]["id"] for i in (await answer.json())["value"]]
            assert file_id in names
    finally:
        b.stop()
        a.stop()
