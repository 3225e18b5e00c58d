"""The memory identity driver is a real driver: named in the service table's `users` row instead of
the builtin store, the whole server runs on it (bootstrap, Basic auth, Graph user admin, WebDAV),
writes no user database, and keeps no password in the clear. The user store contract itself runs
on both drivers in tests/test_identity.py and tests/test_identity_groups.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
from kit import MEMORY_DRIVER, Dav, Graph, password_of

from ocis_server.identity.memory import MemoryUserStore
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.services import SERVICES


def _specs_with_memory_users() -> tuple[object, ...]:
    return tuple(dataclasses.replace(spec, driver=MEMORY_DRIVER) if spec.name == "users" else spec
                 for spec in SERVICES)


async def test_the_server_runs_on_the_memory_driver(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    async with (embedded_server(config, specs=_specs_with_memory_users()) as srv,  # type: ignore[arg-type]
                aiohttp.ClientSession() as session):
        assert isinstance(srv.ctx.users.inner, MemoryUserStore)   # inside the event publisher
        graph = Graph(session, "admin", password="admin", base=srv.url)
        created = await graph.call("POST", "/graph/v1.0/users", 201, json={
            "onPremisesSamAccountName": "lise", "displayName": "Lise Meitner",
            "mail": "lise@example.org", "passwordProfile": {"password": password_of("lise")}})
        me = await Graph(session, "lise", base=srv.url).call("GET", "/graph/v1.0/me", 200)
        assert me["id"] == created["id"] and me["displayName"] == "Lise Meitner"
        await Graph(session, "lise", password="wrong", base=srv.url).call(
            "GET", "/graph/v1.0/me", 401)
        einstein = Dav(session, "einstein", base=srv.url)          # a demo user from bootstrap
        await einstein.put("/notes.txt", b"relativity")
        assert (await einstein.get("/notes.txt")).data == b"relativity"
        users = {u.username for u in await srv.ctx.users.list()}
        assert {"admin", "einstein", "marie", "lise"} <= users
    assert not (tmp_path / "data" / "idm" / "users.db").exists()


async def test_no_password_is_kept_in_the_clear() -> None:
    store = await MemoryUserStore.open()
    secret = "correct horse battery staple"
    alice = await store.create(username="alice", password=secret)
    await store.set_password(alice.id, secret + "!")
    assert secret not in repr(vars(store))
    assert await store.authenticate("alice", secret + "!") == alice
    assert await store.authenticate("ALICE", secret + "!") == alice     # names are case-insensitive
    assert await store.authenticate("alice", secret) is None
