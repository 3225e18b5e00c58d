"""One login throttle for every password path (HTTP Basic at the proxy, the IdP login form, the
LDAP bind of idm, Graph /me/changePassword, link passwords), which guessers cannot turn against
the owner: a client address that keeps failing gets 429, the owner signing in from another
address gets in (at most after a capped wait), and app tokens keep syncing.

Clients connect from different loopback addresses (127.0.0.2 = the attacker, 127.0.0.3 = the
owner, ...): the server sees them as different clients, as it would on a network."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode, urljoin

import aiohttp
import pytest
from idp_helpers import LOOPBACK, forms, pkce
from ldap3 import Connection, Server, Tls

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

USERS_DN = "ou=users,o=libregraph-idm"
ATTACKER, OWNER, SYNC = "127.0.0.2", "127.0.0.3", "127.0.0.4"
DELAY, MAX_DELAY = 0.1, 0.8      # PROXY_LOGIN_FAILURE_DELAY, PROXY_LOGIN_FAILURE_MAX_DELAY
SLACK = 1.5                       # what a loaded CI machine may add to one sign-in
T = TypeVar("T")


def _session(source: str, **kwargs: object) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)),
                                 **kwargs)  # type: ignore[arg-type]


@dataclass
class Paths:
    """The password paths of one running server, each answering what a client would see."""
    srv: EmbeddedServer
    ldaps_port: int
    cert: Path

    async def basic(self, user: str, password: str, source: str = OWNER) -> int:
        async with _session(source) as http, http.request(
                "PROPFIND", f"{self.srv.url}/remote.php/dav/files/{user}/",
                auth=aiohttp.BasicAuth(user, password), headers={"Depth": "0"}) as resp:
            return resp.status

    async def idp(self, user: str, password: str, source: str = OWNER) -> int:
        """Submit the IdP's login form as a browser would: 303 signed in, 200 wrong, 429 locked."""
        _, challenge = pkce()
        query = urlencode({"client_id": "ocis-cli", "redirect_uri": LOOPBACK,
                           "response_type": "code", "scope": "openid", "state": "s",
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        url = f"{self.srv.url}/signin/v1/identifier/_/authorize?{query}"
        async with _session(source, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(url, allow_redirects=False) as page:
                assert page.status == 200, await page.text()
                form = forms(await page.text())["login"]
            data = {**form["fields"], "username": user, "password": password}
            async with http.post(urljoin(url, form["action"]), data=data, allow_redirects=False,
                                 headers={"Origin": self.srv.url}) as resp:
                text = await resp.text()
                if resp.status == 200:
                    assert "Wrong user name or password" in text
                return resp.status

    async def ldap(self, user: str, password: str, source: str = OWNER) -> str:
        """The LDAP result of a simple bind over LDAPS: success or invalidCredentials."""
        def bind() -> str:
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.cert))
            server = Server("127.0.0.1", port=self.ldaps_port, use_ssl=True, tls=tls,
                            connect_timeout=5)
            conn = Connection(server, f"uid={user},{USERS_DN}", password, receive_timeout=10,
                              source_address=source)
            conn.bind()
            conn.unbind()
            return str(conn.result["description"])
        return await asyncio.to_thread(bind)

    async def change_password(self, user: str, password: str, current: str,
                              source: str = OWNER) -> int:
        async with _session(source) as http, http.post(
                f"{self.srv.url}/graph/v1.0/me/changePassword",
                auth=aiohttp.BasicAuth(user, password),
                json={"currentPassword": current, "newPassword": "new-secret-1"}) as resp:
            return resp.status

    async def link(self, token: str, password: str, source: str = OWNER) -> int:
        auth = base64.b64encode(f"public:{password}".encode()).decode()
        async with _session(source) as http, http.request(
                "PROPFIND", f"{self.srv.url}/dav/public-files/{token}/",
                headers={"Depth": "0", "Authorization": f"Basic {auth}"}) as resp:
            return resp.status

    async def make_link(self, password: str) -> str:
        async with _session(OWNER) as http:
            async with http.request("MKCOL", f"{self.srv.url}/remote.php/webdav/shared",
                                    auth=aiohttp.BasicAuth("einstein", "relativity")) as resp:
                assert resp.status == 201
            async with http.post(
                    f"{self.srv.url}/ocs/v2.php/apps/files_sharing/api/v1/shares",
                    params={"format": "json"}, auth=aiohttp.BasicAuth("einstein", "relativity"),
                    data={"shareType": "3", "path": "/shared", "password": password}) as resp:
                body = await resp.json(content_type=None)
                assert resp.status == 200, body
                return str(body["ocs"]["data"]["token"])


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


def _config(tmp_path: Path, **env: str) -> dict[str, str]:
    return {"PROXY_LOGIN_MAX_FAILURES": "3", "PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS": "100",
            "PROXY_LOGIN_FAILURE_WINDOW": "60", "PROXY_LOGIN_FAILURE_DELAY": str(DELAY),
            "PROXY_LOGIN_FAILURE_MAX_DELAY": str(MAX_DELAY), "PROXY_ENABLE_APP_AUTH": "true",
            **env}


@pytest.fixture
async def paths(tmp_path: Path) -> AsyncIterator[Paths]:
    config = make_test_config(tmp_path, **_config(tmp_path))
    async with embedded_server(config, only=["ocdav", "frontend", "graph", "idp", "idm",
                                             "auth-app"]) as srv:
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server     # type: ignore[attr-defined]
        yield Paths(srv, server.ldaps_port, server.settings.cert)


async def _app_token(paths: Paths) -> str:
    user = await paths.srv.ctx.users.get_by_name("einstein")
    assert paths.srv.ctx.app_tokens is not None
    token, _ = await paths.srv.ctx.app_tokens.create(user.id, lifetime=600)
    return token


async def test_basic_guesser_gets_429_the_owner_and_the_sync_client_get_in(paths: Paths) -> None:
    token = await _app_token(paths)
    statuses = [await paths.basic("einstein", "guess", ATTACKER) for _ in range(20)]
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}
    # the attacker's address is done for, even with the right password: no oracle
    assert await paths.basic("einstein", "relativity", ATTACKER) == 429
    status, took = await timed(paths.basic("einstein", "relativity", OWNER))
    assert status == 207 and took < MAX_DELAY + SLACK
    print(f"owner signed in after {took:.3f} s")
    status, took = await timed(paths.basic("einstein", token, SYNC))
    assert status == 207 and took < DELAY            # app tokens never wait for guessers
    assert await paths.basic("einstein", token, ATTACKER) == 207


async def test_idp_guesser_gets_429_the_owner_signs_in(paths: Paths) -> None:
    statuses = [await paths.idp("einstein", "guess", ATTACKER) for _ in range(20)]
    assert statuses[:3] == [200] * 3 and set(statuses[3:]) == {429}
    assert await paths.idp("einstein", "relativity", ATTACKER) == 429
    status, took = await timed(paths.idp("einstein", "relativity", OWNER))
    assert status == 303 and took < MAX_DELAY + SLACK
    assert await paths.basic("einstein", await _app_token(paths), SYNC) == 207


async def test_ldap_guesser_is_refused_the_owner_binds(paths: Paths) -> None:
    results = [await paths.ldap("einstein", "guess", ATTACKER) for _ in range(20)]
    assert set(results) == {"invalidCredentials"}
    assert await paths.ldap("einstein", "relativity", ATTACKER) == "invalidCredentials"
    result, took = await timed(paths.ldap("einstein", "relativity", OWNER))
    assert result == "success" and took < MAX_DELAY + SLACK
    assert await paths.basic("einstein", await _app_token(paths), SYNC) == 207
    assert await paths.basic("einstein", "relativity", OWNER) == 207


async def test_link_password_guesser_gets_429_the_visitor_gets_in(paths: Paths) -> None:
    token = await paths.make_link("Right789!")
    statuses = [await paths.link(token, "wrong", ATTACKER) for _ in range(20)]
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}
    assert await paths.link(token, "Right789!", ATTACKER) == 429
    status, took = await timed(paths.link(token, "Right789!", OWNER))
    assert status == 207 and took < MAX_DELAY + SLACK


async def test_a_botnet_only_slows_the_owner_down_by_the_capped_delay(paths: Paths) -> None:
    # ten addresses, three guesses each: 30 failures on the account, none of them locks it
    bots = [f"127.0.0.{n}" for n in range(10, 20)]
    for bot in bots:
        for _ in range(3):
            assert await paths.basic("einstein", "guess", bot) in (401, 429)
    assert paths.srv.ctx.throttle.delay_for("user:einstein") == pytest.approx(MAX_DELAY)
    status, took = await timed(paths.basic("einstein", "relativity", OWNER))
    assert status == 207 and MAX_DELAY * 0.9 <= took < MAX_DELAY + SLACK
    # the owner's client proved itself: its next requests do not wait again
    status, again = await timed(paths.basic("einstein", "relativity", OWNER))
    assert status == 207 and again < MAX_DELAY * 0.9
    status, took = await timed(paths.idp("einstein", "relativity", "127.0.0.5"))
    assert status == 303 and MAX_DELAY * 0.9 <= took < MAX_DELAY + SLACK
    result, took = await timed(paths.ldap("einstein", "relativity", "127.0.0.6"))
    assert result == "success" and MAX_DELAY * 0.9 <= took < MAX_DELAY + SLACK
    print(f"owner waited {took:.3f} s (cap {MAX_DELAY} s)")


async def test_failures_on_different_paths_add_up_per_address(paths: Paths) -> None:
    assert await paths.idp("marie", "guess", ATTACKER) == 200
    assert await paths.ldap("marie", "guess", ATTACKER) == "invalidCredentials"
    assert await paths.change_password("marie", "radioactivity", "guess", ATTACKER) == 400
    # three failures from one address on three paths: that address is locked on all of them
    assert await paths.basic("marie", "radioactivity", ATTACKER) == 429
    assert await paths.ldap("marie", "radioactivity", ATTACKER) == "invalidCredentials"
    assert await paths.change_password("marie", "radioactivity", "radioactivity",
                                       ATTACKER) == 429
    assert await paths.idp("marie", "radioactivity", ATTACKER) == 429
    # ... and not for marie elsewhere
    assert await paths.basic("marie", "radioactivity", OWNER) == 207
    assert await paths.ldap("marie", "radioactivity", OWNER) == "success"


async def test_the_address_count_is_shared_too(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, **_config(tmp_path,
                                                  PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="4"))
    async with embedded_server(config, only=["ocdav", "idp", "idm"]) as srv:
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server     # type: ignore[attr-defined]
        paths = Paths(srv, server.ldaps_port, server.settings.cert)
        assert await paths.basic("nobody1", "x", ATTACKER) == 401
        assert await paths.basic("nobody2", "x", ATTACKER) == 401
        assert await paths.idp("nobody3", "x", ATTACKER) == 200
        assert await paths.ldap("nobody4", "x", ATTACKER) == "invalidCredentials"
        # four different accounts from one address on three paths: the address is locked
        assert await paths.basic("marie", "radioactivity", ATTACKER) == 429
        assert await paths.idp("marie", "radioactivity", ATTACKER) == 429
        assert await paths.ldap("marie", "radioactivity", ATTACKER) == "invalidCredentials"
        assert await paths.basic("marie", "radioactivity", OWNER) == 207


async def test_the_runtime_hands_every_service_one_throttle(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="7",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="30",
                              PROXY_LOGIN_FAILURE_WINDOW="90", PROXY_LOGIN_FAILURE_DELAY="0.5",
                              PROXY_LOGIN_FAILURE_MAX_DELAY="4", PROXY_LOGIN_MAX_WAITING="9")
    async with embedded_server(config, only=["idm"]) as srv:
        t = srv.ctx.throttle
        assert (t.max_failures, t.address_max_failures, t.window) == (7, 30, 90)
        assert (t.delay, t.max_delay, t.max_waiting) == (0.5, 4, 9)
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        assert unit.server.ctx.throttle is t     # type: ignore[attr-defined]
