"""The event bus (ocis_server/events): consumer groups, acknowledgement and redelivery as a
broker offers them; and the storage publishes a change's event only once it is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocis_server.domain.errors import AlreadyExists
from ocis_server.events import Event, InProcessBus, acting
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"


async def test_each_group_sees_every_event_once_in_order() -> None:
    bus = InProcessBus()
    sse, audit = bus.consume("sse"), bus.consume("audit")
    bus.publish([Event("ContainerCreated", item_id=str(n)) for n in range(3)])
    for consumer in (sse, audit):
        got = [await consumer.fetch(1) for _ in range(3)]
        assert [d.event.item_id for d in got if d] == ["0", "1", "2"]
        assert [d.seq for d in got if d] == [1, 2, 3]
    assert await sse.fetch(0.05) is None


async def test_consumers_of_one_group_share_and_unacked_is_redelivered() -> None:
    bus = InProcessBus()
    first, second = bus.consume("thumbnails"), bus.consume("thumbnails")
    bus.publish([Event("FileUploaded", item_id="a"), Event("FileUploaded", item_id="b")])
    a = await first.fetch(1)
    b = await second.fetch(1)
    assert a is not None and b is not None and {a.event.item_id, b.event.item_id} == {"a", "b"}
    second.close()                       # went away without acknowledging: back to the group
    again = await first.fetch(1)
    assert again is not None and again.seq == b.seq
    first.ack(a.seq)
    first.ack(again.seq)


async def test_type_filter_and_publishing_from_a_thread() -> None:
    bus = InProcessBus()
    consumer = bus.consume("clientlog", frozenset({"ItemTrashed"}))
    await asyncio.to_thread(bus.publish, [Event("UserCreated"), Event("ItemTrashed", item_id="x")])
    got = await consumer.fetch(1)
    assert got is not None and got.event.type == "ItemTrashed"


async def test_a_group_that_falls_behind_skips_what_the_stream_dropped() -> None:
    bus = InProcessBus(retention=2)
    slow = bus.consume("slow")
    bus.publish([Event("FileUploaded", item_id=str(n)) for n in range(5)])
    got = await slow.fetch(1)
    assert got is not None and got.event.item_id == "3"      # memory stayed bounded


async def test_the_stream_holds_only_what_a_group_has_not_taken() -> None:
    bus = InProcessBus()
    bus.publish([Event("FileUploaded", item_id=str(n)) for n in range(500)])
    assert bus.held == 0                   # no group: a group made later starts after these
    fast, slow = bus.consume("userlog"), bus.consume("ocm")
    bus.publish([Event("FileUploaded", item_id=str(n)) for n in range(500)])
    for _ in range(500):
        got = await fast.fetch(1)
        assert got is not None
        fast.ack(got.seq)
    assert bus.held == 500                 # `ocm` has taken none of them yet
    for n in range(500):
        got = await slow.fetch(1)
        assert got is not None and got.event.item_id == str(n)     # nothing of it was lost
    bus.publish([Event("FileUploaded", item_id="last")])
    assert bus.held == 1
    late = bus.consume("sse")
    bus.publish([Event("ItemTrashed", item_id="x")])
    got = await late.fetch(1)
    assert got is not None and got.event.item_id == "x"
    assert await fast.fetch(1) is not None and (await fast.fetch(1)) is not None


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[tuple[SqliteStorage, list[Event]]]:
    store = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    published: list[Event] = []
    store.publish_to(published.extend)
    yield store, published
    await store.close()


async def test_storage_publishes_committed_changes_never_rolled_back(
        storage: tuple[SqliteStorage, list[Event]]) -> None:
    store, published = storage
    space = await store.create_space(space_type="personal", name="Einstein", owner_id="u1",
                                     alias="personal/einstein", space_id="u1")
    with acting("u1"):
        folder = await store.mkdir(space.id, ["docs"])
        with pytest.raises(AlreadyExists):        # rolled back: no event
            await store.mkdir(space.id, ["docs"])
        await store.move(space.id, ["docs"], space.id, ["papers"], overwrite=False)
        await store.delete(space.id, ["papers"])
    kinds = [(e.type, e.executant) for e in published]
    assert kinds == [("SpaceCreated", ""), ("ContainerCreated", "u1"), ("ItemMoved", "u1"),
                     ("ItemTrashed", "u1")]
    created, moved, trashed = published[1:]
    assert created.item_id == folder.resource_id and created.etag == f'"{folder.etag}"'
    assert (moved.path, moved.old_path) == ("/papers", "/docs")
    assert trashed.trash_key == folder.id and trashed.parent_id == f"{space.space_id}!u1"
    assert trashed.access and trashed.access[0].owner_id == "u1"   # who could see it then


async def test_batched_changes_publish_only_the_ones_that_committed(
        storage: tuple[SqliteStorage, list[Event]]) -> None:
    store, published = storage
    space = await store.create_space(space_type="project", name="P", owner_id="u1",
                                     alias="project/p", space_id="p1")
    results = await asyncio.gather(*(store.mkdir(space.id, [name])
                                      for name in ("a", "b", "a", "c")), return_exceptions=True)
    assert sum(isinstance(r, AlreadyExists) for r in results) == 1
    assert sorted(e.path for e in published if e.type == "ContainerCreated") == ["/a", "/b", "/c"]
