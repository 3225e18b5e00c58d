"""The event bus on a real `nats-server -js` (OCIS_EVENTS_ENDPOINT): consumer groups share and
each gets every event, an unacknowledged event goes to the group again, consumers and publishers
ride out a NATS restart without losing an event, and a real `ocis server` publishes an upload's
event that a plain nats-py subscriber sees while the SSE stream keeps working."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import nats
import pytest

from ocis_server.events import Event
from ocis_server.events.jetstream import STREAM, JetStreamBus
from tests.conftest import launch_real_server
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from tests.sse_helpers import SseReader

pytestmark = pytest.mark.scaleout


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[JetStreamBus]:  # noqa: F811
    bus = JetStreamBus(nats_server.address, ack_wait=1.0, max_backoff=0.5)
    await bus.start()
    assert await bus.wait_connected(10), nats_server.log_tail()
    yield bus
    await bus.close()


async def drain(consumer: object, wait: float = 1.0) -> list[str]:
    """Item ids of what the consumer gets until `wait` seconds pass without one (acked)."""
    got = []
    while (delivery := await consumer.fetch(wait)) is not None:  # type: ignore[attr-defined]
        got.append(delivery.event.item_id)
        consumer.ack(delivery.seq)  # type: ignore[attr-defined]
    return got


async def test_one_group_shares_the_events_two_groups_each_get_all(bus: JetStreamBus) -> None:
    first, second = bus.consume("search"), bus.consume("search")
    audit = bus.consume("audit")
    for consumer in (first, second, audit):       # the durable consumers exist from now on
        assert await consumer.fetch(0.2) is None
    bus.publish(Event("FileUploaded", item_id=str(n)) for n in range(20))
    a, b = await asyncio.gather(drain(first), drain(second))
    assert sorted(a + b, key=int) == [str(n) for n in range(20)]      # each once, none twice
    assert a and b                                                     # both took a share
    assert await drain(audit) == [str(n) for n in range(20)]           # the other group: all, in order


async def test_types_filter_and_sequence_numbers(bus: JetStreamBus) -> None:
    consumer = bus.consume("clientlog", frozenset({"ItemTrashed"}))
    assert await consumer.fetch(0.2) is None
    bus.publish([Event("FileUploaded", item_id="a"), Event("ItemTrashed", item_id="b")])
    delivery = await consumer.fetch(5)
    assert delivery is not None and delivery.event.item_id == "b"
    assert delivery.seq >= 2 and bus.last_seq >= delivery.seq
    consumer.ack(delivery.seq)
    assert await consumer.fetch(0.5) is None


async def test_unacknowledged_event_is_delivered_again_after_a_crash(
        nats_server: NatsServer, bus: JetStreamBus) -> None:  # noqa: F811
    crashing = JetStreamBus(nats_server.address, ack_wait=1.0)
    await crashing.start()
    assert await crashing.wait_connected(10)
    doomed = crashing.consume("thumbnails")
    assert await doomed.fetch(0.2) is None
    bus.publish([Event("FileUploaded", item_id="x", path="/x.png")])
    got = await doomed.fetch(5)
    assert got is not None and got.event.item_id == "x"
    assert crashing._nc is not None
    await crashing._nc.close()          # the process dies: no ack, no give-back
    survivor = bus.consume("thumbnails")
    again = await survivor.fetch(10)    # after ack_wait (1 s) the group gets it again
    assert again is not None and (again.event.item_id, again.seq) == ("x", got.seq)
    survivor.ack(again.seq)
    assert await survivor.fetch(2) is None     # acknowledged: not again
    await crashing.close(0)


async def test_closing_a_consumer_gives_back_at_once(bus: JetStreamBus) -> None:
    leaving, staying = bus.consume("userlog"), bus.consume("userlog")
    assert await leaving.fetch(0.2) is None
    bus.publish([Event("ShareCreated", share_id="s1")])
    got = await leaving.fetch(5)
    assert got is not None
    leaving.close()
    again = await staying.fetch(0.9)         # before ack_wait: the nak gave it back
    assert again is not None and again.event.share_id == "s1"


async def test_nats_restart_consumers_resume_and_nothing_is_lost(
        nats_server: NatsServer, bus: JetStreamBus) -> None:  # noqa: F811
    consumer = bus.consume("clientlog")
    assert await consumer.fetch(0.2) is None
    bus.publish([Event("FileUploaded", item_id="before")])
    assert await drain(consumer, 2) == ["before"]
    bus.publish([Event("FileUploaded", item_id="unread")])       # stored, not yet consumed
    await asyncio.sleep(0.5)
    nats_server.stop(signal.SIGKILL)
    bus.publish([Event("FileUploaded", item_id="while-down")])    # must not block, must not vanish
    assert await consumer.fetch(1) is None         # nothing while it is away, and no error
    await asyncio.sleep(1)
    nats_server.start()                                            # same port, same store
    got: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(got) < 2 and loop.time() < deadline:
        delivery = await consumer.fetch(1)
        if delivery is not None:
            got.append(delivery.event.item_id)
            consumer.ack(delivery.seq)
    assert got == ["unread", "while-down"], nats_server.log_tail()
    assert bus.dropped == 0


async def test_publishing_while_nats_is_away_does_not_block(tmp_path: Path) -> None:
    nats_down = NatsServer(tmp_path / "nats")
    bus = JetStreamBus(nats_down.address, outbox_size=3, max_backoff=0.3)
    await bus.start()
    assert not await bus.wait_connected(0.3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    bus.publish(Event("FileUploaded", item_id=str(n)) for n in range(5))
    assert loop.time() - t0 < 0.1
    assert bus.dropped == 2                       # bounded: the two oldest went
    nats_down.start()
    try:
        assert await bus.wait_connected(15), nats_down.log_tail()
        consumer = bus.consume("late")
        # the group is made now: read the stream from its start with a plain subscriber instead
        nc = await nats.connect(nats_down.url)
        js = nc.jetstream()
        sub = await js.subscribe(STREAM, ordered_consumer=True)
        seen = []
        for _ in range(3):
            msg = await sub.next_msg(10)
            seen.append(json.loads(msg.data)["item_id"])
        assert seen == ["2", "3", "4"]
        await nc.close()
        consumer.close()
    finally:
        await bus.close()
        nats_down.stop()


async def test_real_server_publishes_to_nats_and_sse_still_works(
        nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    nc = await nats.connect(nats_server.url)
    env = {"OCIS_EVENTS_ENDPOINT": nats_server.address}
    with launch_real_server(tmp_path / "srv", env) as server:
        js = nc.jetstream()
        sub = await js.subscribe(STREAM, ordered_consumer=True)     # an outside consumer
        async with aiohttp.ClientSession() as session, \
                SseReader(server.url, "einstein", "relativity") as sse:
            auth = aiohttp.BasicAuth("einstein", "relativity")
            async with session.put(f"{server.url}/remote.php/dav/files/einstein/nats.txt",
                                   data=b"hello", auth=auth) as response:
                assert response.status == 201
                etag = response.headers["ETag"]
            found = None
            for _ in range(50):
                msg = await sub.next_msg(10)
                body = json.loads(msg.data)
                if body.get("type") == "FileUploaded" and body.get("path") == "/nats.txt":
                    found = (msg.headers or {}).get("eventtype"), body
                    break
            assert found is not None and found[0] == "FileUploaded"
            assert found[1]["etag"] == etag and found[1]["executant"]
            message = await asyncio.wait_for(sse.messages.get(), 10)   # through NATS, to SSE
            assert message.event == "postprocessing-finished"
            assert message.data["etag"] == etag
    await nc.close()
