"""Groups, memberships, user types, updates and foreign identities on every identity driver
(builtin SQLite, memory), and the migration of an issue-2 users.db (users table only) that keeps
every existing account."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kit import DRIVERS, open_driver

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.identity import UserStore
from ocis_server.identity.builtin import BuiltinUserStore, hash_password
from ocis_server.identity.schema import VERSION


@pytest.fixture(params=sorted(DRIVERS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UserStore]:
    users = await open_driver(request.param, tmp_path / "idm" / "users.db")
    yield users
    await users.close()


async def test_groups_and_memberships(store: UserStore) -> None:
    alice = await store.create(username="alice", password="pw")
    bob = await store.create(username="bob", password="pw")
    physics = await store.create_group(name="physics", description="Physicists")
    chem = await store.create_group(name="chemistry", group_id="fixed-group")
    assert chem.id == "fixed-group" and len(physics.id) == 36
    assert [g.name for g in await store.list_groups()] == ["chemistry", "physics"]
    assert await store.get_group(physics.id) == physics
    assert await store.get_group_by_name("PHYSICS") == physics      # names are case-insensitive
    with pytest.raises(AlreadyExists):
        await store.create_group(name="Physics")
    await store.add_member(physics.id, bob.id)
    await store.add_member(physics.id, alice.id)
    await store.add_member(physics.id, alice.id)                     # idempotent
    await store.add_member(chem.id, alice.id)
    assert [u.username for u in await store.members(physics.id)] == ["alice", "bob"]
    assert [g.name for g in await store.groups_of(alice.id)] == ["chemistry", "physics"]
    await store.remove_member(physics.id, alice.id)
    assert [u.username for u in await store.members(physics.id)] == ["bob"]
    with pytest.raises(NotFound):
        await store.remove_member(physics.id, alice.id)
    await store.delete_group(chem.id)
    assert await store.groups_of(alice.id) == []
    with pytest.raises(NotFound):
        await store.get_group(chem.id)


async def test_group_errors(store: UserStore) -> None:
    alice = await store.create(username="alice", password="pw")
    group = await store.create_group(name="g")
    for bad in ("", " g", "a/b", "x\ny", "x" * 256):
        with pytest.raises(BadRequest):
            await store.create_group(name=bad)
    with pytest.raises(NotFound):
        await store.add_member("missing", alice.id)
    with pytest.raises(NotFound):
        await store.add_member(group.id, "missing")
    with pytest.raises(NotFound):
        await store.members("missing")
    with pytest.raises(NotFound):
        await store.delete_group("missing")
    with pytest.raises(NotFound):
        await store.get_group_by_name("nope")


async def test_deleting_a_user_drops_memberships_and_identities(store: UserStore) -> None:
    alice = await store.create(username="alice", password="pw")
    group = await store.create_group(name="g")
    await store.add_member(group.id, alice.id)
    await store.link_identity("https://idp.example", "sub-1", alice.id)
    await store.delete(alice.id)
    assert await store.members(group.id) == []
    with pytest.raises(NotFound):
        await store.get_by_identity("https://idp.example", "sub-1")
    # a new account of the same name is a different person: nothing of alice's comes back
    again = await store.create(username="alice", password="pw")
    assert await store.groups_of(again.id) == []


async def test_update_and_user_type(store: UserStore) -> None:
    alice = await store.create(username="alice", password="pw")
    assert alice.user_type == "Member" and not alice.is_guest
    updated = await store.update(alice.id, display_name="Alice B", email="a@b.c", role="spaceadmin",
                                 user_type="Guest")
    assert (updated.display_name, updated.email, updated.role, updated.is_guest) == (
        "Alice B", "a@b.c", "spaceadmin", True)
    assert await store.get(alice.id) == updated                      # the id cache was dropped
    assert await store.authenticate("alice", "pw") == updated
    for kwargs in ({"role": "root"}, {"user_type": "Admin"}, {"email": "no at"},
                   {"display_name": ""}):
        with pytest.raises(BadRequest):
            await store.update(alice.id, **kwargs)
    with pytest.raises(NotFound):
        await store.update("missing", role="user")
    with pytest.raises(BadRequest):
        await store.create(username="bob", password="pw", user_type="Other")


async def test_guest_without_password_cannot_log_in(store: UserStore) -> None:
    guest = await store.create(username="guest1", password="", user_type="Guest", role="guest")
    assert guest.is_guest
    assert await store.authenticate("guest1", "") is None
    assert await store.authenticate("guest1", "anything") is None
    with pytest.raises(BadRequest):
        await store.create(username="member1", password="", user_type="Member")


async def test_foreign_identities(store: UserStore) -> None:
    local = await store.create(username="einstein", password="pw")
    guest = await store.create(username="einstein@a.example", password="", user_type="Guest")
    await store.link_identity("https://a.example", "uuid-1", guest.id)
    await store.link_identity("https://a.example", "uuid-1", guest.id)   # same link: no error
    assert await store.get_by_identity("https://a.example", "uuid-1") == guest
    with pytest.raises(AlreadyExists):
        await store.link_identity("https://a.example", "uuid-1", local.id)
    with pytest.raises(NotFound):
        await store.get_by_identity("https://b.example", "uuid-1")     # issuer is part of the key
    with pytest.raises(NotFound):
        await store.link_identity("https://a.example", "uuid-2", "missing")


async def test_issue2_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as conn:   # the schema as issue 2 shipped it
        conn.execute("CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE"
                     " COLLATE NOCASE, display_name TEXT NOT NULL, email TEXT NOT NULL,"
                     " role TEXT NOT NULL, password_hash TEXT NOT NULL, created REAL NOT NULL)")
        conn.execute("INSERT INTO users VALUES ('u1', 'marie', 'Marie', 'm@x', 'admin', ?, 0)",
                     (hash_password("radium"),))
    store = await BuiltinUserStore.open(path)
    try:
        marie = await store.authenticate("marie", "radium")
        assert marie is not None and marie.role == "admin" and marie.user_type == "Member"
        group = await store.create_group(name="curie")
        await store.add_member(group.id, marie.id)
        assert await store.groups_of("u1") == [group]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
    again = await BuiltinUserStore.open(path)       # reopening a current file changes nothing
    try:
        assert [g.name for g in await again.groups_of("u1")] == ["curie"]
    finally:
        await again.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(RuntimeError, match="schema version"):
        await BuiltinUserStore.open(path)


async def test_a_disabled_account_cannot_log_in_until_enabled(store: UserStore) -> None:
    alice = await store.create(username="alice", password="pw")
    assert alice.enabled
    disabled = await store.update(alice.id, enabled=False)
    assert not disabled.enabled and not (await store.get(alice.id)).enabled
    assert await store.authenticate("alice", "pw") is None
    assert (await store.update(alice.id, display_name="A")).enabled is False   # other changes keep it
    enabled = await store.update(alice.id, enabled=True)
    assert enabled.enabled and await store.authenticate("alice", "pw") == enabled
