"""Graph `accountEnabled`: an admin disables an account with PATCH /users/{id}; from then on it
cannot sign in by any path (HTTP Basic, app tokens, the IdP form, LDAP binds, the bearer token and
refresh token of a session it already had), its shares stay, GET /users says so, and
`accountEnabled: true` gives it all back."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import aiohttp
import pytest
from idp_helpers import LOOPBACK, forms, pkce, query_of
from ldap3 import Connection, Server, Tls

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

ADMIN = aiohttp.BasicAuth("admin", "admin")
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
USERS_DN = "ou=users,o=libregraph-idm"


@dataclass
class Server_:
    srv: EmbeddedServer
    http: aiohttp.ClientSession
    ldaps_port: int
    cert: Path

    async def req(self, method: str, path: str, auth: aiohttp.BasicAuth | None = None,
                  headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, str]:
        async with self.http.request(method, self.srv.url + path, auth=auth, headers=headers,
                                     **kw) as resp:
            return resp.status, await resp.text()

    async def graph(self, method: str, path: str, auth: aiohttp.BasicAuth = ADMIN,
                    **kw: Any) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.srv.url}/graph/v1.0{path}", auth=auth,
                                     **kw) as resp:
            return resp.status, await resp.json(content_type=None)

    async def dav(self, auth: aiohttp.BasicAuth | None = None,
                  bearer: str | None = None) -> int:
        headers = {"Depth": "0", **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
        return (await self.req("PROPFIND", "/remote.php/dav/files/einstein/", auth, headers))[0]

    async def ldap(self, user: str, password: str) -> str:
        def bind() -> str:
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.cert))
            server = Server("127.0.0.1", port=self.ldaps_port, use_ssl=True, tls=tls,
                            connect_timeout=5)
            conn = Connection(server, f"uid={user},{USERS_DN}", password, receive_timeout=10)
            conn.bind()
            conn.unbind()
            return str(conn.result["description"])
        return await asyncio.to_thread(bind)

    async def sign_in(self, username: str, password: str) -> tuple[int, dict[str, Any]]:
        """The IdP's pages as a browser, then the code for tokens: (status of the form POST,
        the tokens when it signed in)."""
        verifier, challenge = pkce()
        query = urlencode({"client_id": "ocis-cli", "redirect_uri": LOOPBACK,
                           "response_type": "code", "scope": "openid offline_access",
                           "state": "st", "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        url = f"{self.srv.url}/signin/v1/identifier/_/authorize?{query}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(url, allow_redirects=False) as page:
                form = forms(await page.text())["login"]
            data = {**form["fields"], "username": username, "password": password}
            async with http.post(urljoin(url, form["action"]), data=data,
                                 allow_redirects=False) as resp:
                if resp.status != 303:
                    return resp.status, {}
                url = urljoin(url, resp.headers["Location"])
            async with http.get(url, allow_redirects=False) as resp:
                code = query_of(resp.headers["Location"])["code"]
            async with http.post(f"{self.srv.url}/konnect/v1/token", data={
                    "grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK,
                    "client_id": "ocis-cli", "code_verifier": verifier}) as resp:
                assert resp.status == 200, await resp.text()
                return 303, dict(await resp.json())

    async def authorize_with(self, http: aiohttp.ClientSession) -> tuple[int, str]:
        """GET the authorize endpoint with the browser `http` (its IdP session cookie): 302 to
        the client with a code when the session signs in, 200 with the login form when not."""
        _, challenge = pkce()
        query = urlencode({"client_id": "ocis-cli", "redirect_uri": LOOPBACK,
                           "response_type": "code", "scope": "openid", "state": "st",
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        async with http.get(f"{self.srv.url}/signin/v1/identifier/_/authorize?{query}",
                            allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def refresh(self, token: str) -> int:
        async with self.http.post(f"{self.srv.url}/konnect/v1/token", data={
                "grant_type": "refresh_token", "refresh_token": token,
                "client_id": "ocis-cli"}) as resp:
            return resp.status


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server_]:
    config = make_test_config(tmp_path, PROXY_ENABLE_APP_AUTH="true",
                              PROXY_LOGIN_MAX_FAILURES="100",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="100")
    async with embedded_server(config, only=["ocdav", "frontend", "graph", "idp", "idm",
                                             "auth-app"]) as srv:
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        idm = unit.server     # type: ignore[attr-defined]
        async with aiohttp.ClientSession() as http:
            yield Server_(srv, http, idm.ldaps_port, idm.settings.cert)


async def test_a_disabled_account_cannot_sign_in_anywhere_and_keeps_its_shares(
        server: Server_) -> None:
    s = server
    # before: a share to marie, an app token, a signed-in session with a refresh token
    assert (await s.req("MKCOL", "/remote.php/webdav/Docs", EINSTEIN))[0] == 201
    assert (await s.req("PUT", "/remote.php/webdav/Docs/a.txt", EINSTEIN, data=b"v1"))[0] == 201
    status, _ = await s.req("POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares", EINSTEIN,
                            params={"format": "json"},
                            data={"shareType": "0", "shareWith": "marie", "path": "/Docs"})
    assert status == 200
    assert s.srv.ctx.app_tokens is not None
    einstein = await s.srv.ctx.users.get_by_name("einstein")
    app_token, _ = await s.srv.ctx.app_tokens.create(einstein.id, lifetime=600)
    status, tokens = await s.sign_in("einstein", "relativity")
    assert status == 303
    assert await s.dav(bearer=tokens["access_token"]) == 207

    status, body = await s.graph("PATCH", f"/users/{einstein.id}", json={"accountEnabled": False})
    assert status == 200 and body["accountEnabled"] is False
    status, body = await s.graph("GET", "/users")
    assert {u["onPremisesSamAccountName"]: u["accountEnabled"] for u in body["value"]}[
        "einstein"] is False
    assert (await s.graph("GET", "/users/einstein"))[1]["accountEnabled"] is False

    assert await s.dav(EINSTEIN) == 401                                   # Basic
    assert await s.dav(aiohttp.BasicAuth("einstein", app_token)) == 401   # app token
    assert await s.dav(bearer=tokens["access_token"]) == 401              # the session's token
    assert await s.refresh(tokens["refresh_token"]) == 400                # ... and its refresh
    assert (await s.sign_in("einstein", "relativity"))[0] == 200          # the IdP form
    assert await s.ldap("einstein", "relativity") == "invalidCredentials"  # LDAP bind
    status, _ = await s.req("GET", "/remote.php/dav/files/marie/Shares/Docs/a.txt", MARIE)
    assert status == 200                                                  # the share stays
    assert (await s.req("PROPFIND", "/remote.php/dav/files/marie/", MARIE,
                        {"Depth": "0"}))[0] == 207

    status, body = await s.graph("PATCH", f"/users/{einstein.id}", json={"accountEnabled": True})
    assert status == 200 and body["accountEnabled"] is True
    assert await s.dav(EINSTEIN) == 207
    assert await s.dav(aiohttp.BasicAuth("einstein", app_token)) == 207
    assert await s.ldap("einstein", "relativity") == "success"
    status, again = await s.sign_in("einstein", "relativity")
    assert status == 303 and await s.dav(bearer=again["access_token"]) == 207


async def test_only_admins_disable_and_not_themselves(server: Server_) -> None:
    s = server
    status, body = await s.graph("PATCH", "/users/marie", EINSTEIN, json={"accountEnabled": False})
    assert status == 403
    status, body = await s.graph("PATCH", "/users/admin", json={"accountEnabled": False})
    assert status == 403 and "your own account" in body["error"]["message"]
    status, body = await s.graph("PATCH", "/users/marie", json={"accountEnabled": "no"})
    assert status == 400 and body["error"]["code"] == "invalidRequest"
    # a user created disabled cannot sign in until enabled
    status, body = await s.graph("POST", "/users", json={
        "onPremisesSamAccountName": "newbie", "displayName": "New",
        "passwordProfile": {"password": "Secret-123"}, "accountEnabled": False})
    assert status == 201 and body["accountEnabled"] is False
    newbie = aiohttp.BasicAuth("newbie", "Secret-123")
    assert (await s.req("PROPFIND", "/remote.php/dav/files/newbie/", newbie,
                        {"Depth": "0"}))[0] == 401
    # a non-admin looking people up does not see the flag (oCIS shows it to admins only)
    status, body = await s.graph("GET", "/users", MARIE, params={"$search": "newbie"})
    assert status == 200 and body["value"] and "accountEnabled" not in body["value"][0]


async def test_the_idp_browser_session_of_a_disabled_account_ends(server: Server_) -> None:
    s = server
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        status, page = await s.authorize_with(browser)
        form = forms(page)["login"]
        url = f"{s.srv.url}/signin/v1/identifier/_/authorize"
        async with browser.post(urljoin(url, form["action"]), allow_redirects=False, data={
                **form["fields"], "username": "einstein", "password": "relativity"}) as resp:
            assert resp.status == 303
        status, _ = await s.authorize_with(browser)
        assert status == 302                              # the session signs in silently
        status, _ = await s.graph("PATCH", "/users/einstein", json={"accountEnabled": False})
        assert status == 200
        status, page = await s.authorize_with(browser)
        assert status == 200 and "login" in forms(page)   # asked to sign in again ...
        async with browser.post(urljoin(url, form["action"]), allow_redirects=False, data={
                **forms(page)["login"]["fields"], "username": "einstein",
                "password": "relativity"}) as resp:
            assert resp.status == 200                     # ... which fails while disabled
            assert "Wrong user name or password" in await resp.text()
