"""Shares in the storage: create, list by resource/creator/recipient (with groups), received
state, update, delete, and shares following their node into the trash and back."""

from __future__ import annotations

import time

import pytest

from ocis_server.domain.errors import AlreadyExists, NotFound
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
OWNER, MARIE, MOSS, GROUP = "u-owner", "u-marie", "u-moss", "g-physics"


async def _body(data: bytes):
    yield data


@pytest.fixture
async def store(tmp_path):
    storage = await SqliteStorage.open(tmp_path / "s", STORAGE_ID)
    await storage.create_space(space_type="personal", name="Owner", owner_id=OWNER,
                               alias="personal/owner", space_id=OWNER)
    await storage.mkdir(OWNER, ("Docs",))
    await storage.upload(OWNER, ("Docs", "a.txt"), _body(b"hello"))
    yield storage
    await storage.close()


async def test_create_list_and_ids(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    share = await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                     role_id="viewer-id", permissions=1, creator_id=OWNER)
    storage_id, space_id, uuid = share.id.split(":")
    assert (storage_id, space_id) == (STORAGE_ID, OWNER) and len(uuid) == 36
    assert (await store.get_share(share.id)) == share
    assert [s.id for s in await store.list_shares(node_ids=[docs.id])] == [share.id]
    assert [s.id for s in await store.list_shares(creator_id=OWNER)] == [share.id]
    assert await store.list_shares(creator_id=MARIE) == []
    with pytest.raises(AlreadyExists):
        await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                 role_id="", permissions=15, creator_id=OWNER)
    with pytest.raises(NotFound):
        await store.create_share(node_id="nope", grantee_type="user", grantee_id=MARIE,
                                 role_id="", permissions=1, creator_id=OWNER)
    # shares on an ancestor cover what is below
    a = await store.lookup(OWNER, ("Docs", "a.txt"))
    assert [s.id for s in await store.shares_covering(a.id)] == [share.id]


async def test_received_state_and_groups(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    a = await store.lookup(OWNER, ("Docs", "a.txt"))
    direct = await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                      role_id="", permissions=1, creator_id=OWNER,
                                      initial_state="pending")
    via_group = await store.create_share(node_id=a.id, grantee_type="group", grantee_id=GROUP,
                                         role_id="", permissions=3, creator_id=OWNER)
    got = await store.received_shares(MARIE, [GROUP])
    assert [(r.share.id, r.state, r.mount_point) for r in got] == [
        (direct.id, "pending", "Docs"), (via_group.id, "accepted", "a.txt")]
    assert [r.share.id for r in await store.received_shares(MARIE)] == [direct.id]
    assert [r.share.id for r in await store.received_shares(MOSS, [GROUP])] == [via_group.id]
    await store.set_received(direct.id, MARIE, state="accepted", hidden=True)
    mine = {r.share.id: r for r in await store.received_shares(MARIE, [GROUP])}
    assert mine[direct.id].state == "accepted" and mine[direct.id].hidden
    # moss's state of the group share is his own
    await store.set_received(via_group.id, MOSS, state="declined")
    assert (await store.received_shares(MARIE, [GROUP]))[1].state == "accepted"
    assert (await store.received_shares(MOSS, [GROUP]))[0].state == "declined"


async def test_mount_points_are_unique_per_recipient(store: SqliteStorage) -> None:
    await store.mkdir(OWNER, ("Other",))
    await store.mkdir(OWNER, ("Other", "Docs"))
    for path in (("Docs",), ("Other", "Docs")):
        node = await store.lookup(OWNER, path)
        await store.create_share(node_id=node.id, grantee_type="user", grantee_id=MARIE,
                                 role_id="", permissions=1, creator_id=OWNER)
    assert [r.mount_point for r in await store.received_shares(MARIE)] == ["Docs", "Docs (1)"]


async def test_update_and_delete(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    share = await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                     role_id="", permissions=1, creator_id=OWNER)
    later = time.time() + 3600
    updated = await store.update_share(share.id, role_id="editor-id", permissions=15,
                                       expiration=later)
    assert (updated.permissions, updated.role_id, updated.expiration) == (15, "editor-id", later)
    cleared = await store.update_share(share.id, clear_expiration=True)
    assert cleared.expiration is None and cleared.permissions == 15
    await store.delete_share(share.id)
    with pytest.raises(NotFound):
        await store.get_share(share.id)
    assert await store.received_shares(MARIE) == []
    with pytest.raises(NotFound):
        await store.delete_share(share.id)


async def test_shares_follow_their_node_to_the_trash_and_back(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    share = await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                     role_id="", permissions=1, creator_id=OWNER)
    await store.delete(OWNER, ("Docs",))
    assert await store.received_shares(MARIE) == []
    assert await store.list_shares(creator_id=OWNER) == []
    with pytest.raises(NotFound):
        await store.get_share(share.id)
    (item,) = await store.list_trash(OWNER)
    await store.restore_trash(OWNER, item.key, overwrite=False)
    assert [r.share.id for r in await store.received_shares(MARIE)] == [share.id]


async def test_purging_the_node_drops_its_shares(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    share = await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                     role_id="", permissions=1, creator_id=OWNER)
    await store.set_received(share.id, MARIE, hidden=True)
    await store.delete(OWNER, ("Docs",))
    await store.empty_trash(OWNER)

    def rows(conn):
        return (conn.execute("SELECT count(*) FROM shares").fetchone()[0],
                conn.execute("SELECT count(*) FROM received").fetchone()[0])
    assert await store._read(rows) == (0, 0)


async def test_shares_follow_their_node_into_another_space(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    share = await store.create_share(node_id=docs.id, grantee_type="user", grantee_id=MARIE,
                                     role_id="", permissions=1, creator_id=OWNER)
    project = await store.create_space(space_type="project", name="P", owner_id=OWNER,
                                       alias="project/p")
    await store.move(OWNER, ("Docs",), project.id, ("Docs",), overwrite=False)
    (received,) = await store.received_shares(MARIE)
    assert received.share.id == share.id and received.share.space_id == project.id
    assert [s.id for s in await store.list_shares(space_id=project.id)] == [share.id]
    assert await store.list_shares(space_id=OWNER) == []
