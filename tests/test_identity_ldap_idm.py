"""Two of our servers: B takes its users and groups from A's embedded LDAP server (idm) with oCIS's
default LDAP settings (ownCloudUUID ids, uid logins, LDAPS with A's certificate), as an oCIS
instance would from another oCIS's idm. Users log into B with the password A holds."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from ocis_server.runtime import embedded_server, make_test_config

REVA_PASSWORD = "reva-secret"


async def test_server_reads_users_and_groups_from_another_servers_idm(tmp_path: Path) -> None:
    config_a = make_test_config(tmp_path / "a", IDM_REVASVC_PASSWORD=REVA_PASSWORD)
    async with embedded_server(config_a, only=["idm"]) as a:
        users = a.ctx.users
        einstein = await users.get_by_name("einstein")
        quarks = await users.create_group(name="quark-lovers")
        await users.add_member(quarks.id, einstein.id)
        groups = [(g.id, g.name) for g in await users.groups_of(einstein.id)]   # + demo groups
        assert (quarks.id, "quark-lovers") in groups and len(groups) == 5
        unit = a.supervisor.unit("idm")
        assert unit is not None
        idm = unit.server           # type: ignore[attr-defined]
        config_b = make_test_config(
            tmp_path / "b", demo_users=False,
            OCIS_LDAP_URI=f"ldaps://127.0.0.1:{idm.ldaps_port}",
            OCIS_LDAP_CACERT=str(idm.settings.cert),
            OCIS_LDAP_BIND_DN="uid=reva,ou=sysusers,o=libregraph-idm",
            OCIS_LDAP_BIND_PASSWORD=REVA_PASSWORD,
            OCIS_ADMIN_USER_ID=a.config.admin_user_id)
        async with embedded_server(config_b) as b, aiohttp.ClientSession() as http:
            assert {u.username: u.id for u in await b.ctx.users.list()} == {
                u.username: u.id for u in await users.list()}
            auth = aiohttp.BasicAuth("einstein", "relativity")
            async with http.get(f"{b.url}/graph/v1.0/me", params={"$expand": "memberOf"},
                                auth=auth) as resp:
                me = await resp.json()
            assert me["id"] == einstein.id
            assert [(g["id"], g["displayName"]) for g in me["memberOf"]] == groups
            async with http.request("PROPFIND", f"{b.url}/remote.php/dav/files/einstein/",
                                    auth=auth, headers={"Depth": "0"}) as resp:
                assert resp.status == 207
            async with http.get(f"{b.url}/graph/v1.0/me",
                                auth=aiohttp.BasicAuth("einstein", "wrong")) as resp:
                assert resp.status == 401
            # A's admin is B's admin (same id); B cannot write to A's read-only directory
            async with http.post(f"{b.url}/graph/v1.0/groups", json={"displayName": "x"},
                                 auth=aiohttp.BasicAuth("admin", "admin")) as resp:
                assert resp.status == 403
                assert "read-only" in (await resp.json())["error"]["message"]
