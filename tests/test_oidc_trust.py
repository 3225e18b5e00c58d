"""Trust between two embedded servers on loopback: a user of A logs in at A's IdP (authorization
code + PKCE, over HTTP, through the IdP's pages) and uses the access token on B, which trusts A as
a foreign issuer and auto-provisions the user as a Guest keyed by (A, sub), never as B's own user of
the same name. A server that does not trust A refuses the token."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import pytest
from clients.helpers import debian_rclone
from idp_helpers import forms, pkce, query_of

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

REDIRECT = "http://127.0.0.1:53682/callback"


async def login_at(server: EmbeddedServer, username: str, password: str) -> dict[str, Any]:
    """Tokens from `server`'s IdP for the ocis-cli client, as a browser + CLI would get them."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    query = urlencode({"client_id": "ocis-cli", "redirect_uri": REDIRECT, "response_type": "code",
                       "scope": "openid profile email offline_access", "state": state,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        url = f"{server.url}/signin/v1/identifier/_/authorize?{query}"
        resp = await http.get(url, allow_redirects=False)
        for _ in range(6):
            if resp.status in (302, 303):
                location = urljoin(url, resp.headers["Location"])
                if location.startswith(REDIRECT):
                    break
                url = location
                resp = await http.get(url, allow_redirects=False)
                continue
            text = await resp.text()
            assert resp.status == 200, text[:500]
            page = forms(text)
            if "login" in page:
                form, data = page["login"], {"username": username, "password": password}
            else:
                form, data = page["consent"], {"decision": "allow"}
            url = urljoin(url, form["action"])
            resp = await http.post(url, data={**form["fields"], **data}, allow_redirects=False)
        params = query_of(resp.headers["Location"])
        assert params["state"] == state
        token = await http.post(f"{server.url}/konnect/v1/token", data={
            "grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
            "client_id": "ocis-cli", "code_verifier": verifier})
        assert token.status == 200, await token.text()
        return dict(await token.json())


async def me(server: EmbeddedServer, token: str) -> tuple[int, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, \
            http.get(f"{server.url}/graph/v1.0/me", headers=auth) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_user_of_a_is_a_guest_on_b(tmp_path: Path) -> None:
    config_a = make_test_config(tmp_path / "a")
    async with embedded_server(config_a) as a:
        tokens = await login_at(a, "einstein", "relativity")
        access = tokens["access_token"]
        status, body = await me(a, access)             # A's own issuer: A's einstein
        einstein_a = await a.ctx.users.get_by_name("einstein")
        assert status == 200 and body["id"] == einstein_a.id and body["userType"] == "Member"

        config_b = make_test_config(tmp_path / "b", OCIS_OIDC_TRUSTED_ISSUERS=a.url,
                                    PROXY_AUTOPROVISION_ACCOUNTS="true")
        async with embedded_server(config_b) as b:
            status, body = await me(b, access)
            assert status == 200, body
            einstein_b = await b.ctx.users.get_by_name("einstein")
            assert body["id"] not in (einstein_b.id, einstein_a.id)
            assert body["userType"] == "Guest"
            assert body["onPremisesSamAccountName"] == f"einstein@{urlsplit(a.url).netloc.replace(':', '-')}"
            guest = await b.ctx.users.get_by_identity(a.url, einstein_a.id)
            assert guest.id == body["id"] and guest.is_guest
            # the same person again: the same guest, not a second account
            again = (await login_at(a, "einstein", "relativity"))["access_token"]
            assert (await me(b, again))[1]["id"] == guest.id
            # B's own accounts are untouched and B still trusts its own IdP
            own = (await login_at(b, "einstein", "relativity"))["access_token"]
            assert (await me(b, own))[1]["id"] == einstein_b.id
            # A does not trust B: B's token is refused there
            status, body = await me(a, own)
            assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_idp_access_token_works_on_every_api(tmp_path: Path) -> None:
    """WebDAV, OCS, Graph and TUS all take the embedded IdP's access token through the proxy."""
    async with embedded_server(make_test_config(tmp_path, basic_auth=False)) as srv:
        access = (await login_at(srv, "einstein", "relativity"))["access_token"]
        auth = {"Authorization": f"Bearer {access}"}
        async with aiohttp.ClientSession(base_url=srv.url) as http:
            async with http.request("PROPFIND", "/remote.php/dav/files/einstein/",
                                    headers={**auth, "Depth": "0"}) as resp:
                assert resp.status == 207
            async with http.put("/remote.php/webdav/hello.txt", data=b"hi", headers=auth) as resp:
                assert resp.status in (201, 204)
            async with http.get("/ocs/v2.php/cloud/user?format=json", headers=auth) as resp:
                assert resp.status == 200
                assert (await resp.json())["ocs"]["data"]["id"] == "einstein"
            async with http.get("/graph/v1.0/me/drives", headers=auth) as resp:
                assert resp.status == 200 and (await resp.json())["value"]
            tus = {**auth, "Tus-Resumable": "1.0.0", "Upload-Length": "5",
                   "Upload-Metadata": "filename " + base64.b64encode(b"t.txt").decode(),
                   "Content-Type": "application/offset+octet-stream"}
            async with http.post("/remote.php/webdav/", data=b"12345", headers=tus) as resp:
                assert resp.status == 201, await resp.text()
            async with http.get("/remote.php/webdav/t.txt", headers=auth) as resp:
                assert resp.status == 200 and await resp.read() == b"12345"
            # without the token nothing is served, and Basic is off
            async with http.get("/remote.php/webdav/t.txt") as resp:
                assert resp.status == 401


@pytest.mark.slow
async def test_rclone_with_a_bearer_token(tmp_path: Path) -> None:
    """A real WebDAV client (Debian's rclone) with the IdP's access token, Basic turned off."""
    rclone = debian_rclone()
    async with embedded_server(make_test_config(tmp_path / "srv", basic_auth=False)) as srv:
        access = (await login_at(srv, "einstein", "relativity"))["access_token"]
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "a.txt").write_bytes(b"alpha")
        (tmp_path / "rclone.conf").write_text("")
        env = {**os.environ, "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
               "RCLONE_CONFIG_OC_TYPE": "webdav", "RCLONE_CONFIG_OC_VENDOR": "owncloud",
               "RCLONE_CONFIG_OC_URL": f"{srv.url}/remote.php/webdav/",
               "RCLONE_CONFIG_OC_BEARER_TOKEN": access}
        proc = await asyncio.create_subprocess_exec(
            rclone, "copy", str(tmp_path / "src"), "oc:from-rclone", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
        async with aiohttp.ClientSession() as http, http.get(
                f"{srv.url}/remote.php/webdav/from-rclone/a.txt",
                headers={"Authorization": f"Bearer {access}"}) as resp:
            assert resp.status == 200 and await resp.read() == b"alpha"
        env["RCLONE_CONFIG_OC_BEARER_TOKEN"] = access[:-4] + "AAAA"    # a forged signature
        proc = await asyncio.create_subprocess_exec(
            rclone, "lsf", "oc:from-rclone", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode != 0 and b"401" in out
