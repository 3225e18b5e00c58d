"""Users and groups in PostgreSQL (`OCIS_DATABASE_URL`), on a throw-away cluster (pgcluster.py):
schema migrations run once when two nodes start at once; two front nodes over one database see each
other's users and groups at once and both let them log in; PostgreSQL stopped -> 503 with
Retry-After on what needs it while the rest answers; restarted -> works again, no server restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pgcluster import PgCluster, postgres  # noqa: F401 - the fixture

from ocis_server.domain.errors import AlreadyExists, NotFound, ServiceUnavailable
from ocis_server.identity.pgstore import STEPS, PostgresUserStore
from ocis_server.postgres import Pool, migrate
from ocis_server.runtime import embedded_server, make_test_config

pytestmark = pytest.mark.scaleout
ADMIN = aiohttp.BasicAuth("admin", "admin")
SERVICES = ["graph", "ocdav", "frontend"]


async def test_two_nodes_starting_at_once_migrate_once(postgres: PgCluster) -> None:
    pools = [Pool(postgres.url) for _ in range(3)]
    try:
        ran = await asyncio.gather(*(migrate(pool, "users", STEPS) for pool in pools))
    finally:
        for pool in pools:
            await pool.close()
    assert sorted(ran) == [0, 0, len(STEPS)]
    assert postgres.psql("SELECT version FROM ocis_schema WHERE component = 'users'") == "1"
    store = await PostgresUserStore.open(postgres.url)     # a later start: nothing to do
    try:
        await store.create(username="Alice", password="pw-alice")
        with pytest.raises(AlreadyExists):                  # names are unique, any case
            await store.create(username="alice", password="other")
        assert (await store.get_by_name("ALICE")).username == "Alice"
        assert await store.authenticate("alice", "pw-alice") is not None
        assert await store.authenticate("alice", "wrong") is None
    finally:
        await store.close()


async def call(session: aiohttp.ClientSession, method: str, url: str, auth: aiohttp.BasicAuth,
               json: Any = None) -> tuple[int, dict[str, str], Any]:
    async with session.request(method, url, auth=auth, json=json) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, dict(resp.headers), body


async def test_two_front_nodes_share_users_and_survive_a_database_restart(
        postgres: PgCluster, tmp_path: Path) -> None:
    config_a = make_test_config(tmp_path / "a", OCIS_DATABASE_URL=postgres.url)
    # The second node is another machine with the same ocis.toml: the same admin id.
    config_b = make_test_config(tmp_path / "b", OCIS_DATABASE_URL=postgres.url,
                                OCIS_ADMIN_USER_ID=config_a.admin_user_id)
    async with embedded_server(config_a, only=SERVICES) as a, \
            embedded_server(config_b, only=SERVICES) as b, aiohttp.ClientSession() as s:
        graph_a, graph_b = a.url + "/graph/v1.0", b.url + "/graph/v1.0"
        # A user made through node A: visible through B at once, and logs in on both.
        status, _, alan = await call(s, "POST", graph_a + "/users", ADMIN, {
            "onPremisesSamAccountName": "alan", "displayName": "Alan Turing",
            "mail": "alan@example.org", "passwordProfile": {"password": "enigma-pw"}})
        assert status == 201, alan
        status, _, seen = await call(s, "GET", f"{graph_b}/users/{alan['id']}", ADMIN)
        assert status == 200 and seen["displayName"] == "Alan Turing"
        alan_auth = aiohttp.BasicAuth("alan", "enigma-pw")
        for graph in (graph_a, graph_b):
            status, _, me = await call(s, "GET", graph + "/me", alan_auth)
            assert status == 200 and me["id"] == alan["id"], me
        # A group made through B, with alan in it: A lists it and its member at once.
        status, _, team = await call(s, "POST", graph_b + "/groups", ADMIN,
                                     {"displayName": "codebreakers"})
        assert status == 201, team
        status, _, _ = await call(s, "POST", f"{graph_b}/groups/{team['id']}/members/$ref", ADMIN,
                                  {"@odata.id": f"{graph_b}/users/{alan['id']}"})
        assert status == 204
        status, _, members = await call(s, "GET", f"{graph_a}/groups/{team['id']}/members", ADMIN)
        assert status == 200 and [m["id"] for m in members] == [alan["id"]]   # oCIS: a bare array
        # Disabled through B: A refuses the password it accepted a moment ago (no stale cache).
        status, _, _ = await call(s, "PATCH", f"{graph_b}/users/{alan['id']}", ADMIN,
                                  {"accountEnabled": False})
        assert status == 200
        assert (await call(s, "GET", graph_a + "/me", alan_auth))[0] == 401

        postgres.stop()
        status, headers, body = await call(s, "GET", graph_a + "/users", ADMIN)
        assert status == 503, body
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert str(postgres.port) not in str(body) and "Traceback" not in str(body)
        status, _, body = await call(s, "GET", f"{graph_b}/users/{alan['id']}", ADMIN)
        assert status == 503, body
        # What does not need the database still answers on both nodes.
        for node in (a, b):
            async with s.get(node.url + "/status.php") as resp:
                assert resp.status == 200
            async with s.get(node.url + "/ocs/v2.php/cloud/capabilities?format=json") as resp:
                assert resp.status == 200

        postgres.start()
        back = {}
        deadline = time.monotonic() + 15
        for name, graph in (("a", graph_a), ("b", graph_b)):
            while True:
                status, _, body = await call(s, "GET", graph + "/users", ADMIN)
                if status == 200 or time.monotonic() > deadline:
                    break
                assert status == 503, body
                await asyncio.sleep(0.2)
            back[name] = status
            assert status == 200 and "alan" in {u["onPremisesSamAccountName"]
                                                for u in body["value"]}
        assert back == {"a": 200, "b": 200}


async def test_database_away_at_call_is_service_unavailable(postgres: PgCluster) -> None:
    store = await PostgresUserStore.open(postgres.url)
    try:
        await store.create(username="grace", password="cobol-pw")
        postgres.stop()
        with pytest.raises(ServiceUnavailable) as caught:
            await store.get_by_name("grace")
        assert caught.value.status == 503 and caught.value.retry_after >= 1
        postgres.start()
        assert (await store.authenticate("grace", "cobol-pw")) is not None
    finally:
        await store.close()


async def test_the_idp_rules_hold_on_sqlite_and_on_postgresql(postgres: PgCluster,
                                                              tmp_path: Path) -> None:
    """The same programs (services/idp/store.py IdpRules) through both drivers: single-use codes
    whose replay revokes the family, rotated refresh tokens, the device flow with slow_down, and
    sessions."""
    from ocis_server.services.idp.pgidp import PostgresIdpStore
    from ocis_server.services.idp.store import Grant, IdpStore

    for store in (await IdpStore.open(tmp_path / "idp.db"),
                  await PostgresIdpStore.open(postgres.url)):
        try:
            grant = Grant("ocis-cli", "u1", "openid", 1700000000, "fam1", "n", "http://x/cb", "ch")
            await store.add_code("code-1", grant, 60)
            assert await store.redeem_code("code-1") == grant
            await store.add_refresh("r1", grant, 60)
            assert (await store.use_refresh("r1")) == Grant("ocis-cli", "u1", "openid",
                                                            1700000000, "fam1")
            await store.add_refresh("r2", grant, 60)
            assert await store.redeem_code("code-1") is None        # replayed: family revoked
            assert await store.use_refresh("r2") is None
            assert (await store.find_refresh("r2")) is not None
            assert await store.add_device("dev-1", "bcdf-ghjk", "ocis-cli", "openid", 60, 5)
            assert not await store.add_device("dev-2", "BCDFGHJK", "ocis-cli", "openid", 60, 5)
            assert (await store.device("bcdfghjk")) is not None
            assert (await store.poll_device("dev-1", "ocis-cli"))[0] == "authorization_pending"
            assert (await store.poll_device("dev-1", "ocis-cli"))[0] == "slow_down"
            assert (await store.poll_device("dev-1", "other"))[0] == "invalid_grant"
            assert await store.decide_device("BCDF-GHJK", "u1", 1700000001)
            outcome, approved = await store.poll_device("dev-1", "ocis-cli")
            assert outcome == "approved" and approved is not None and approved.user_id == "u1"
            assert (await store.poll_device("dev-1", "ocis-cli"))[0] == "invalid_grant"
            sid, auth_time = await store.add_session("u1", 60)
            assert await store.session(sid) == ("u1", auth_time)
            await store.drop_session(sid)
            assert await store.session(sid) is None
            await store.purge()
        finally:
            await store.close()


async def test_ldap_local_roles_and_links_are_shared_by_the_nodes(postgres: PgCluster,
                                                                  tmp_path: Path) -> None:
    """With OCIS_LDAP_URI and OCIS_DATABASE_URL, what the directory does not hold (roles, user
    types, linked identities) is in PostgreSQL: what one node sets, the other reads; the rules are
    the SQLite LocalAccounts' (checked on both)."""
    from ocis_server.identity.localdb import LocalAccounts
    from ocis_server.identity.pglocal import PostgresLocalAccounts

    sqlite = await LocalAccounts.open(tmp_path / "ldap-local.db")
    node_a = await PostgresLocalAccounts.open(postgres.url)
    node_b = await PostgresLocalAccounts.open(postgres.url)
    try:
        for one, other in ((sqlite, sqlite), (node_a, node_b)):
            await one.set("u1", role="admin")
            await one.set("u1", user_type="Guest")              # the role stays
            assert await other.override("u1") == ("admin", "Guest")
            await other.set("u1", role="user")
            assert (await one.overrides())["u1"] == ("user", "Guest")
            await one.link("https://idp.example", "sub-1", "u1")
            await other.link("https://idp.example", "sub-1", "u1")   # again: a no-op
            with pytest.raises(AlreadyExists):
                await other.link("https://idp.example", "sub-1", "u2")
            assert await other.identity("https://idp.example", "sub-1") == "u1"
            await other.forget("u1")
            assert await one.override("u1") == (None, None)
            with pytest.raises(NotFound):
                await one.identity("https://idp.example", "sub-1")
    finally:
        for store in (sqlite, node_a, node_b):
            await store.close()
