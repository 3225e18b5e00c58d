"""Several front nodes on one NATS: a consumer group that keeps its work in the process (the SSE
streams of the clients connected to a node, the userlog's notifications) is consumed by every node
on its own, so each node's clients see every change; the other groups stay shared (each event to
one member)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest

from ocis_server.events import Event
from ocis_server.events.jetstream import NODE_GROUP_IDLE, STREAM, JetStreamBus
from ocis_server.runtime.eventbus import PER_NODE_GROUPS
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)

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
