"""The user store contract on every identity driver (builtin SQLite, memory), the builtin store's
own ways (scrypt hashes, a brief authentication cache), and HTTP Basic parsing."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kit import DRIVERS, open_driver

from ocis_server.auth.basic import authenticate_basic, parse_basic
from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    NotFound,
    Unauthenticated,
)
from ocis_server.identity import UserStore, builtin
from ocis_server.identity.builtin import (
    BuiltinUserStore,
    hash_password,
    verify_password,
)


@pytest.fixture(params=sorted(DRIVERS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UserStore]:
    users = await open_driver(request.param, tmp_path / "idm" / "users.db")
    yield users
    await users.close()


@pytest.fixture
async def builtin_store(tmp_path: Path) -> AsyncIterator[BuiltinUserStore]:
    users = await BuiltinUserStore.open(tmp_path / "idm" / "users.db")
    yield users
    await users.close()


async def test_create_get_list(store: UserStore) -> None:
    alice = await store.create(username="alice", password="secret", display_name="Alice A",
                               email="alice@example.org", role="admin")
    assert alice.is_admin and len(alice.id) == 36
    assert await store.get(alice.id) == alice
    assert await store.get_by_name("ALICE") == alice          # login names are case-insensitive
    bob = await store.create(username="bob", password="pw", user_id="fixed-id")
    assert bob.id == "fixed-id" and bob.display_name == "bob" and bob.role == "user"
    assert [u.username for u in await store.list()] == ["alice", "bob"]
    with pytest.raises(NotFound):
        await store.get("missing")
    with pytest.raises(NotFound):
        await store.get_by_name("carol")


async def test_create_rejects_duplicates_and_bad_input(store: UserStore) -> None:
    await store.create(username="alice", password="secret")
    with pytest.raises(AlreadyExists):
        await store.create(username="Alice", password="other")
    for name in ("", "a:b", "../x", "a b"):
        with pytest.raises(BadRequest):
            await store.create(username=name, password="x")
    with pytest.raises(BadRequest):
        await store.create(username="carol", password="x", role="root")
    with pytest.raises(BadRequest):
        await store.create(username="carol", password="")


async def test_authenticate(store: UserStore) -> None:
    alice = await store.create(username="alice", password="secret")
    assert await store.authenticate("alice", "secret") == alice
    assert await store.authenticate("alice", "Secret") is None
    assert await store.authenticate("nobody", "secret") is None
    assert await store.authenticate("alice", "") is None


async def test_password_is_stored_as_scrypt_hash(tmp_path: Path,
                                                 builtin_store: BuiltinUserStore) -> None:
    await builtin_store.create(username="alice", password="secret")
    with sqlite3.connect(tmp_path / "idm" / "users.db") as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("scrypt$16384$8$1$") and "secret" not in stored
    assert hash_password("secret") != hash_password("secret")          # random salt
    assert verify_password("secret", stored) and not verify_password("secreT", stored)
    assert not verify_password("secret", "garbage")


async def test_successful_authentication_is_cached(builtin_store: BuiltinUserStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await builtin_store.create(username="alice", password="secret")
    calls: list[str] = []
    real = builtin.verify_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(password)
        return real(password, encoded)

    monkeypatch.setattr(builtin, "verify_password", counting)
    for _ in range(5):
        assert await builtin_store.authenticate("alice", "secret") is not None
    assert calls == ["secret"]
    assert await builtin_store.authenticate("alice", "wrong") is None     # a different key: checked
    assert await builtin_store.authenticate("alice", "wrong") is None     # failures are never cached
    assert calls == ["secret", "wrong", "wrong"]


async def test_concurrent_authentications_share_one_check(builtin_store: BuiltinUserStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    await builtin_store.create(username="alice", password="secret")
    calls: list[str] = []
    real = builtin.verify_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(password)
        return real(password, encoded)

    monkeypatch.setattr(builtin, "verify_password", counting)
    results = await asyncio.gather(*(builtin_store.authenticate("alice", "secret") for _ in range(10)))
    assert all(r is not None and r.username == "alice" for r in results)
    assert calls == ["secret"]


async def test_set_password_invalidates_the_cache(store: UserStore) -> None:
    alice = await store.create(username="alice", password="old")
    assert await store.authenticate("alice", "old") is not None
    await store.set_password(alice.id, "new")
    assert await store.authenticate("alice", "old") is None
    assert await store.authenticate("alice", "new") == alice
    with pytest.raises(NotFound):
        await store.set_password("missing", "x")


async def test_users_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    first = await BuiltinUserStore.open(path)
    alice = await first.create(username="alice", password="secret")
    await first.close()
    second = await BuiltinUserStore.open(path)
    try:
        assert await second.authenticate("alice", "secret") == alice
        assert await second.count() == 1
    finally:
        await second.close()


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_parse_basic() -> None:
    assert parse_basic(_basic(b"alice:se:cret")) == ("alice", "se:cret")
    assert parse_basic("basic " + base64.b64encode("jos\u00e9:p\u00e4ss".encode()).decode()) == (
        "jos\u00e9", "p\u00e4ss")
    assert parse_basic(_basic("jos\u00e9:x".encode("latin-1"))) == ("jos\u00e9", "x")
    for bad in ("Basic !!!notbase64", "Basic ", "Bearer abc", _basic(b"no-colon"), _basic(b":pw"),
                "Basic " + "A" * 5000):
        with pytest.raises(Unauthenticated):
            parse_basic(bad)


async def test_authenticate_basic(store: UserStore) -> None:
    alice = await store.create(username="alice", password="secret")
    assert await authenticate_basic(store, _basic(b"alice:secret")) == alice
    with pytest.raises(Unauthenticated):
        await authenticate_basic(store, _basic(b"alice:nope"))
