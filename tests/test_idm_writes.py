"""idm and changes: what Graph changes is visible over LDAP at the next operation (no stale
snapshot), and a user changes their own password with the LDAP Password Modify extended
operation (RFC 3062; ldap3 and OpenLDAP's ldappasswd), checked and throttled like a bind."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ldap3 import SUBTREE, Connection, Server, Tls

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

USERS = "ou=users,o=libregraph-idm"
GROUPS = "ou=groups,o=libregraph-idm"
EINSTEIN = f"uid=einstein,{USERS}"
ADMIN = aiohttp.BasicAuth("admin", "admin")


@dataclass
class Idm:
    srv: EmbeddedServer
    port: int
    cert: Path
    view: Any

    def connect(self, dn: str | None = EINSTEIN, password: str = "relativity",
                source: str = "127.0.0.1") -> Connection:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.cert))
        server = Server("127.0.0.1", port=self.port, use_ssl=True, tls=tls, connect_timeout=5)
        conn = Connection(server, dn, password if dn else None, receive_timeout=10,
                          source_address=source)
        conn.bind()
        return conn

    async def graph(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.request(
                method, f"{self.srv.url}/graph/v1.0{path}", auth=ADMIN, **kw) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def idm(tmp_path: Path) -> AsyncIterator[Idm]:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="100",
                              PROXY_LOGIN_FAILURE_DELAY="0.05")
    async with embedded_server(config, only=["ocdav", "graph", "idm"]) as srv:
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server     # type: ignore[attr-defined]
        yield Idm(srv, server.ldaps_port, server.settings.cert, server.view)


def _entries(conn: Connection, base: str, flt: str, attrs: list[str]) -> list[dict[str, Any]]:
    conn.search(base, flt, SUBTREE, attributes=attrs)
    return [dict(r["attributes"]) for r in conn.response if r["type"] == "searchResEntry"]


async def test_graph_changes_are_visible_over_ldap_at_once(idm: Idm) -> None:
    idm.view.ttl = 3600.0      # only a change, never the age of the snapshot, may rebuild it
    conn = await asyncio.to_thread(idm.connect)
    assert await asyncio.to_thread(_entries, conn, GROUPS, "(cn=fresh-group)", ["cn"]) == []
    status, group = await idm.graph("POST", "/groups", json={"displayName": "fresh-group"})
    assert status == 201
    found = await asyncio.to_thread(_entries, conn, GROUPS, "(cn=fresh-group)", ["ownCloudUUID"])
    assert [e["ownCloudUUID"] for e in found] == [[group["id"]]]
    status, user = await idm.graph("POST", "/users", json={
        "onPremisesSamAccountName": "lise", "displayName": "Lise Meitner",
        "passwordProfile": {"password": "fission-1"}})
    assert status == 201
    status, _ = await idm.graph("POST", f"/groups/{group['id']}/members/$ref", json={
        "@odata.id": f"{idm.srv.url}/graph/v1.0/users/{user['id']}"})
    assert status == 204
    lise = await asyncio.to_thread(_entries, conn, USERS, "(uid=lise)",
                                   ["memberOf", "ownCloudUserEnabled"])
    assert lise == [{"memberOf": [f"cn=fresh-group,{GROUPS}"], "ownCloudUserEnabled": ["TRUE"]}]
    status, _ = await idm.graph("PATCH", f"/users/{user['id']}", json={"accountEnabled": False})
    assert status == 200
    lise = await asyncio.to_thread(_entries, conn, USERS, "(uid=lise)", ["ownCloudUserEnabled"])
    assert lise == [{"ownCloudUserEnabled": ["FALSE"]}]
    conn.unbind()


async def test_users_change_their_own_password(idm: Idm) -> None:
    def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        conn = idm.connect()
        out["ok"] = conn.extend.standard.modify_password(
            old_password="relativity", new_password="Einstein-2")
        out["relogin_old"] = idm.connect(password="relativity").bound
        out["relogin_new"] = idm.connect(password="Einstein-2").bound
        out["other"] = conn.extend.standard.modify_password(
            user=f"uid=marie,{USERS}", old_password="radioactivity", new_password="x-1")
        out["other_result"] = conn.result["description"]
        out["no_old"] = conn.extend.standard.modify_password(new_password="Einstein-3")
        out["no_old_result"] = conn.result["description"]
        anonymous = idm.connect(dn=None)
        anonymous.extend.standard.modify_password(old_password="x", new_password="y")
        out["anonymous"] = anonymous.result["description"]
        return out

    out = await asyncio.to_thread(run)
    assert out["ok"] is True and out["relogin_new"] and not out["relogin_old"]
    assert (out["other"], out["other_result"]) == (False, "insufficientAccessRights")
    assert (out["no_old"], out["no_old_result"]) == (False, "unwillingToPerform")
    assert out["anonymous"] == "insufficientAccessRights"
    async with aiohttp.ClientSession() as http, http.request(
            "PROPFIND", f"{idm.srv.url}/remote.php/dav/files/einstein/", headers={"Depth": "0"},
            auth=aiohttp.BasicAuth("einstein", "Einstein-2")) as resp:
        assert resp.status == 207                              # the new password everywhere


async def test_wrong_old_passwords_are_throttled_like_binds(idm: Idm) -> None:
    def run() -> list[str]:
        conn = idm.connect(source="127.0.0.2")
        results = []
        for old in ("guess1", "guess2", "guess3", "relativity"):
            conn.extend.standard.modify_password(old_password=old, new_password="Einstein-9")
            results.append(str(conn.result["description"]))
        # the guessing address is locked for einstein: even its bind with the right one fails
        results.append(str(idm.connect(source="127.0.0.2").result["description"]))
        elsewhere = idm.connect(source="127.0.0.3")
        elsewhere.extend.standard.modify_password(old_password="relativity",
                                                  new_password="Einstein-9")
        results.append(str(elsewhere.result["description"]))
        return results

    assert await asyncio.to_thread(run) == ["invalidCredentials"] * 5 + ["success"]


async def test_ldappasswd_changes_the_password(idm: Idm, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
    env.update({"LDAPTLS_CACERT": str(idm.cert), "LDAPTLS_REQCERT": "demand",
                "HOME": str(tmp_path)})
    done = await asyncio.to_thread(
        subprocess.run, ["ldappasswd", "-x", "-H", f"ldaps://127.0.0.1:{idm.port}",
                         "-D", f"uid=marie,{USERS}", "-w", "radioactivity",
                         "-a", "radioactivity", "-s", "Polonium-84"],
        capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert (await asyncio.to_thread(idm.connect, f"uid=marie,{USERS}", "Polonium-84")).bound
    refused = await asyncio.to_thread(
        subprocess.run, ["ldappasswd", "-x", "-H", f"ldaps://127.0.0.1:{idm.port}",
                         "-D", f"uid=marie,{USERS}", "-w", "Polonium-84",
                         "-a", "wrong", "-s", "Other-1"],
        capture_output=True, text=True, env=env, timeout=30)
    assert refused.returncode != 0 and "Invalid credentials (49)" in refused.stdout
