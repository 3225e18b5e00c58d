"""Which event bus this node uses: in-process (the default), or NATS JetStream when
OCIS_EVENTS_ENDPOINT is set (docs/events.md, docs/decisions/0015-event-bus-on-nats.md)."""

from __future__ import annotations

import logging

from ocis_server.config import Config
from ocis_server.events import EventBus, InProcessBus

log = logging.getLogger("ocis.runtime")
CONNECT_GRACE = 3.0       # seconds the start waits for NATS before going on degraded
# Consumer groups whose consumer keeps what it does in this process (the SSE streams of the
# clients connected to this node): with several nodes on one NATS, each node consumes them in a
# group of its own, so every node sees every event. The userlog's group is per node too while
# each node keeps its notifications in its own SQLite; with OCIS_DATABASE_URL they are in one
# PostgreSQL table, and the group is shared: each notification is written once, by one node.
PER_NODE_GROUPS = frozenset({"clientlog"})


def per_node_groups(config: Config) -> frozenset[str]:
    return PER_NODE_GROUPS if config.database_url else PER_NODE_GROUPS | {"userlog"}


async def open_bus(config: Config, node: str = "") -> EventBus:
    """The bus for this node's ServiceContext. A NATS that is away does not stop the start: the
    bus connects in the background and keeps what is published meanwhile in its outbox."""
    if not config.events_endpoint:
        return InProcessBus()
    from ocis_server.events.jetstream import JetStreamBus
    bus = JetStreamBus(config.events_endpoint, name=config.events_cluster,
                       ack_wait=config.events_ack_wait, outbox_size=config.events_outbox_size,
                       node=node, per_node=per_node_groups(config))
    await bus.start()
    if not await bus.wait_connected(CONNECT_GRACE):
        log.warning("event bus: NATS at %s not reachable yet; starting degraded (events are "
                    "kept in memory until it is, at most %d)", bus.url, config.events_outbox_size)
    return bus


async def close_bus(bus: EventBus) -> None:
    close = getattr(bus, "close", None)
    if close is not None:
        await close()
