"""Remote spaces on the NATS bus, two real instances and a real nats-server: paris runs with
OCIS_EVENTS_ENDPOINT pointing at NATS; a change in Einstein's folder at zurich, shared with
marie@paris.test, is re-emitted by paris's ocm service onto the JetStream stream (`main-queue`)
as a change in Marie's remote space, and reaches her SSE stream at paris from there; another
paris user gets nothing; once Marie removes the share (its event also travels over NATS to the
follower) no more events come."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp
import pytest

from ocis_server.events.jetstream import JetStreamBus
from ocis_server.runtime import embedded_server
from test_ocm_events import SSE, next_event, put_at_zurich, stream, until_flowing
from test_ocm_federation import EINSTEIN, MARIE, OCS, Pair, call, configs, federate
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.scaleout


async def test_remote_changes_reach_marie_over_nats(tmp_path: Path,
                                                    nats_server: NatsServer) -> None:  # noqa: F811
    zurich_config, paris_config = configs(tmp_path)
    paris_config = dataclasses.replace(paris_config, events_endpoint=nats_server.address)
    async with (embedded_server(zurich_config) as zurich, embedded_server(paris_config) as paris,
                aiohttp.ClientSession() as http):
        assert isinstance(paris.ctx.events, JetStreamBus)
        p = Pair(zurich, paris, zurich_config, http)
        physics = (await federate(tmp_path, p))["Physics"]
        space = physics["id"]
        probe = paris.ctx.events.consume("test-probe", frozenset({"FileUploaded"}))
        async with stream(http, paris.url + SSE, auth=MARIE) as events:
            await until_flowing(p, events, space)
            while await probe.fetch(0.2) is not None:
                pass
            await put_at_zurich(p, "Physics/new.txt", b"hello")
            kind, data = await next_event(events, space, 3.0) or ("none", {})
            assert kind == "postprocessing-finished" and data["spaceid"] == space
            assert data["itemid"] and data["etag"]
            # it went through NATS: a consumer group of our own pulls it from the stream
            delivery = await probe.fetch(5.0)
            assert delivery is not None and delivery.event.space_id == space
            probe.ack(delivery.seq)
            assert (await call(http, "MKCOL", f"{zurich.url}/remote.php/webdav/Physics/sub",
                               EINSTEIN))[0] == 201
            assert (await next_event(events, space, 3.0) or ("none",))[0] == "folder-created"
        probe.close()
        async with stream(http, paris.url + SSE, auth=EINSTEIN) as other:
            await put_at_zurich(p, "Physics/for-marie.txt")
            assert await next_event(other, space, 1.5) is None
        async with stream(http, paris.url + SSE, auth=MARIE) as events:
            await until_flowing(p, events, space)
            share_id = physics["root"]["remoteItem"]["permissions"][0]["id"]
            assert (await call(http, "DELETE", f"{paris.url}{OCS}/remote_shares/{share_id}"
                               "?format=json", MARIE))[0] == 200
            await asyncio.sleep(1.0)                    # the removal's event crosses NATS
            await put_at_zurich(p, "Physics/after.txt")
            assert await next_event(events, space, 1.5) is None
