"""Public links in the storage: tokens, update and delete, links following their node into the
trash and back, purge removing them; and the link rules of `auth.publiclink`."""

from __future__ import annotations

import asyncio
import time

import pytest

from ocis_server.auth import publiclink
from ocis_server.auth.logins import LoginThrottle
from ocis_server.domain.errors import (
    BadRequest,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
OWNER = "u-owner"


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


async def test_tokens_are_long_random_and_unique(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    links = [await store.create_link(node_id=docs.id, link_type="view", permissions=1,
                                     creator_id=OWNER) for _ in range(20)]
    tokens = {link.token for link in links}
    assert len(tokens) == 20 and all(len(t) >= 15 for t in tokens)
    assert all(set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
               for t in tokens)
    assert (await store.link_by_token(links[0].token)) == links[0]
    assert len(await store.list_links(node_ids=[docs.id])) == 20
    with pytest.raises(BadRequest):
        await store.create_link(node_id=docs.id, link_type="admin", permissions=31,
                                creator_id=OWNER)


async def test_update_and_delete(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    link = await store.create_link(node_id=docs.id, link_type="view", permissions=1,
                                   creator_id=OWNER, password_hash="h1", name="n")
    changed = await store.update_link(link.id, link_type="edit", permissions=15,
                                      clear_password=True, expiration=time.time() + 60)
    assert (changed.link_type, changed.permissions, changed.password_hash) == ("edit", 15, None)
    assert changed.token == link.token and changed.expiration and not changed.expired()
    await store.delete_link(link.id)
    with pytest.raises(NotFound):
        await store.link_by_token(link.token)
    with pytest.raises(NotFound):
        await store.delete_link(link.id)


async def test_links_follow_their_node_through_trash_and_purge(store: SqliteStorage) -> None:
    node = await store.lookup(OWNER, ("Docs", "a.txt"))
    link = await store.create_link(node_id=node.id, link_type="view", permissions=1,
                                   creator_id=OWNER)
    await store.delete(OWNER, ("Docs",))
    with pytest.raises(NotFound):
        await store.link_by_token(link.token)
    assert await store.list_links(creator_id=OWNER) == []
    trashed = (await store.list_trash(OWNER))[0]
    await store.restore_trash(OWNER, trashed.key, overwrite=False)
    assert (await store.link_by_token(link.token)).id == link.id
    await store.delete(OWNER, ("Docs",))
    await store.purge_trash(OWNER, (await store.list_trash(OWNER))[0].key)
    with pytest.raises(NotFound):
        await store.get_link(link.id)


def test_link_types_and_bits() -> None:
    assert publiclink.type_for_bits(1, is_dir=True) == "view"
    assert publiclink.type_for_bits(31, is_dir=True) == "view"       # oC10 compat
    assert publiclink.type_for_bits(4, is_dir=True) == "file-drop"
    assert publiclink.type_for_bits(5, is_dir=True) == "upload"
    assert publiclink.type_for_bits(15, is_dir=True) == "edit"
    assert publiclink.type_for_bits(3, is_dir=False) == "edit"
    assert publiclink.bits_for("edit", is_dir=False) == 3
    assert publiclink.type_for_bits(0, is_dir=False) == "internal"
    for bad, is_dir in ((4, False), (2, True), (8, True), (64, True)):
        with pytest.raises(BadRequest):
            publiclink.type_for_bits(bad, is_dir=is_dir)
    assert publiclink.basic_password("Basic cHVibGljOnNlY3JldA==") == "secret"   # public:secret
    assert publiclink.basic_password("Basic ZWluc3RlaW46eA==") is None         # einstein:x
    assert publiclink.basic_password(None) is None


async def test_expired_link_is_gone_and_passwords_throttle(store: SqliteStorage) -> None:
    docs = await store.lookup(OWNER, ("Docs",))
    pw_hash = await publiclink.hash_link_password("right")
    link = await store.create_link(node_id=docs.id, link_type="view", permissions=1,
                                   creator_id=OWNER, password_hash=pw_hash,
                                   expiration=time.time() + 0.2)
    checker = publiclink.LinkPasswords(LoginThrottle(max_failures=2, window=60, delay=0.01))
    await checker.check(link, "right", address="192.0.2.1")
    with pytest.raises(Unauthenticated):
        await checker.check(link, None, address="192.0.2.1")
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await checker.check(link, "wrong", address="192.0.2.2")
    with pytest.raises(TooManyRequests):       # the guessing address, even with the right one
        await checker.check(link, "right", address="192.0.2.2")
    await checker.check(link, "right", address="192.0.2.3")    # anyone else
    await asyncio.sleep(0.25)
    with pytest.raises(NotFound):
        await publiclink.open_link(store, link.token)
