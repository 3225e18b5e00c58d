"""Sharing events are neither lost nor sent for a change that did not happen: a sharing change
whose caller is cancelled after the storage committed it (a request that went away, a time-out)
still runs to its end and publishes, so the recipient's stream announces the share; a change
that fails publishes nothing; the server waits for such a change before it closes the bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sse_helpers import SseReader

from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.embed import EmbeddedServer
from ocis_server.sharing import rules, shares
from ocis_server.sharing.shares import Grant


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    async with embedded_server(make_test_config(tmp_path)) as s:
        yield s


def hold_after_commit(srv: EmbeddedServer, monkeypatch: Any) -> tuple[asyncio.Event, asyncio.Event]:
    """Make `create_share` wait once the storage committed the share: the point between the
    commit and the publication. Returns (committed, release)."""
    committed, release = asyncio.Event(), asyncio.Event()
    real = srv.ctx.storage.create_share

    async def create_share(**kwargs: Any) -> Any:
        share = await real(**kwargs)
        committed.set()
        await release.wait()
        return share

    monkeypatch.setattr(srv.ctx.storage, "create_share", create_share)
    return committed, release


async def test_a_share_cancelled_between_commit_and_publish_is_announced(
        srv: EmbeddedServer, monkeypatch: Any) -> None:
    ctx = srv.ctx
    einstein = await ctx.users.get_by_name("einstein")
    marie = await ctx.users.get_by_name("marie")
    folder = await ctx.storage.mkdir(einstein.id, ("Docs",))
    access = await rules.access_to(ctx, einstein, folder)
    bus = ctx.events.consume("test-sharing", frozenset({"ShareCreated"}))
    committed, release = hold_after_commit(srv, monkeypatch)
    async with SseReader(srv.url, "marie", "radioactivity") as stream:
        request = asyncio.create_task(shares.create(
            ctx, einstein, folder, access, Grant.of(roles.VIEWER), [("user", marie.id)], None))
        await asyncio.wait_for(committed.wait(), 5)
        request.cancel()                                # the caller goes away right there
        with pytest.raises(asyncio.CancelledError):
            await request
        assert await bus.fetch(timeout=0.3) is None     # not yet published: still held
        release.set()
        delivery = await bus.fetch(timeout=5)
        assert delivery is not None, "the committed share's event was lost"
        [share] = await ctx.storage.list_shares(node_ids=[folder.id])
        assert (delivery.event.type, delivery.event.share_id) == ("ShareCreated", share.id)
        bus.ack(delivery.seq)
        message = await stream.next()
        assert message.event == "share-created" and marie.id in message.data["affecteduserids"]
        note = await stream.note()                      # and the notification (userlog)
        assert (note.event, note.data["object_id"]) == ("userlog-notification", share.id)

        # a change that fails (the recipient has the share already) publishes nothing
        with pytest.raises(AlreadyExists):
            await shares.create(ctx, einstein, folder, access, Grant.of(roles.VIEWER),
                                [("user", marie.id)], None)
        assert await bus.fetch(timeout=0.5) is None
        assert await stream.quiet(0.5) == [] and stream.notes.empty()
    bus.close()


async def test_the_server_stops_after_a_held_share_change_published(tmp_path: Path,
                                                                    monkeypatch: Any) -> None:
    """Stopping waits for a sharing change whose caller was cancelled: its event reaches the bus
    before the bus closes."""
    published: list[str] = []
    async with embedded_server(make_test_config(tmp_path)) as srv:
        ctx = srv.ctx
        einstein = await ctx.users.get_by_name("einstein")
        marie = await ctx.users.get_by_name("marie")
        folder = await ctx.storage.mkdir(einstein.id, ("Docs",))
        access = await rules.access_to(ctx, einstein, folder)
        real_publish = ctx.events.publish
        monkeypatch.setattr(ctx.events, "publish", lambda events: (
            published.extend(e.type for e in events), real_publish(events))[1])
        committed, release = hold_after_commit(srv, monkeypatch)
        request = asyncio.create_task(shares.create(
            ctx, einstein, folder, access, Grant.of(roles.VIEWER), [("user", marie.id)], None))
        await asyncio.wait_for(committed.wait(), 5)
        request.cancel()
        asyncio.get_running_loop().call_later(0.5, release.set)
    assert "ShareCreated" in published
