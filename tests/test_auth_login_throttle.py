"""One login throttle for every password path: HTTP Basic at the proxy, the IdP login form, the
LDAP bind of idm and Graph /me/changePassword count against the same account and address, a lock
on one holds on all, and a success on one path neither lifts a lock nor forgets another's guesses."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin

import aiohttp
import pytest
from idp_helpers import LOOPBACK, forms, pkce
from ldap3 import Connection, Server, Tls

from ocis_server.auth.throttle import Throttle
from ocis_server.domain.errors import TooManyRequests
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

USERS_DN = "ou=users,o=libregraph-idm"


@dataclass
class Paths:
    """The password paths of one running server, each answering a status a client would see."""
    srv: EmbeddedServer
    ldaps_port: int
    cert: Path

    async def basic(self, user: str, password: str) -> int:
        auth = aiohttp.BasicAuth(user, password)
        async with aiohttp.ClientSession() as http, http.request(
                "PROPFIND", f"{self.srv.url}/remote.php/dav/files/{user}/", auth=auth,
                headers={"Depth": "0"}) as resp:
            return resp.status

    async def idp(self, user: str, password: str) -> int:
        """Submit the IdP's login form as a browser would: 303 signed in, 200 wrong, 429 locked."""
        _, challenge = pkce()
        query = urlencode({"client_id": "ocis-cli", "redirect_uri": LOOPBACK,
                           "response_type": "code", "scope": "openid", "state": "s",
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        url = f"{self.srv.url}/signin/v1/identifier/_/authorize?{query}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(url, allow_redirects=False) as page:
                assert page.status == 200, await page.text()
                form = forms(await page.text())["login"]
            data = {**form["fields"], "username": user, "password": password}
            async with http.post(urljoin(url, form["action"]), data=data,
                                 allow_redirects=False) as resp:
                text = await resp.text()
                if resp.status == 200:
                    assert "Wrong user name or password" in text
                return resp.status

    async def ldap(self, user: str, password: str) -> str:
        """The LDAP result of a simple bind over LDAPS: success or invalidCredentials."""
        def bind() -> str:
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.cert))
            server = Server("127.0.0.1", port=self.ldaps_port, use_ssl=True, tls=tls,
                            connect_timeout=5)
            conn = Connection(server, f"uid={user},{USERS_DN}", password, receive_timeout=10)
            conn.bind()
            conn.unbind()
            return str(conn.result["description"])
        return await asyncio.to_thread(bind)

    async def change_password(self, user: str, password: str, current: str) -> int:
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.srv.url}/graph/v1.0/me/changePassword",
                auth=aiohttp.BasicAuth(user, password),
                json={"currentPassword": current, "newPassword": "new-secret-1"}) as resp:
            return resp.status


@pytest.fixture
async def paths(tmp_path: Path) -> AsyncIterator[Paths]:
    # 3 per account; the address limit is out of the way unless a test is about it
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="100",
                              PROXY_LOGIN_FAILURE_WINDOW="60")
    async with embedded_server(config, only=["ocdav", "graph", "idp", "idm"]) as srv:
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server     # type: ignore[attr-defined]
        yield Paths(srv, server.ldaps_port, server.settings.cert)


async def test_basic_failures_lock_the_account_at_the_idp_and_over_ldap(paths: Paths) -> None:
    for _ in range(3):
        assert await paths.basic("einstein", "guess") == 401
    assert await paths.basic("einstein", "relativity") == 429
    assert await paths.idp("einstein", "relativity") == 429          # the right password waits
    assert await paths.idp("Einstein", "relativity") == 429          # names are keyed lowercased
    assert await paths.ldap("einstein", "relativity") == "invalidCredentials"
    # the lock is einstein's: marie signs in on every path
    assert await paths.idp("marie", "radioactivity") == 303
    assert await paths.ldap("marie", "radioactivity") == "success"
    assert await paths.basic("marie", "radioactivity") == 207


async def test_failures_on_different_paths_add_up(paths: Paths) -> None:
    assert await paths.idp("marie", "guess") == 200
    assert await paths.ldap("marie", "guess") == "invalidCredentials"
    assert await paths.change_password("marie", "radioactivity", "guess") == 400
    assert await paths.basic("marie", "radioactivity") == 429
    assert await paths.ldap("marie", "radioactivity") == "invalidCredentials"


async def test_a_success_elsewhere_does_not_forget_guesses_or_lift_a_lock(paths: Paths) -> None:
    assert await paths.idp("einstein", "guess") == 200
    assert await paths.idp("einstein", "guess") == 200
    # the owner's desktop client syncs with the right password meanwhile ...
    assert await paths.basic("einstein", "relativity") == 207
    assert await paths.ldap("einstein", "relativity") == "success"
    # ... which does not wipe the two guesses at the login form: one more locks the account
    assert await paths.ldap("einstein", "guess") == "invalidCredentials"
    assert await paths.basic("einstein", "relativity") == 429
    assert await paths.idp("einstein", "relativity") == 429


async def test_the_address_count_is_shared_too(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="5",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="4",
                              PROXY_LOGIN_FAILURE_WINDOW="60")
    async with embedded_server(config, only=["ocdav", "idp", "idm"]) as srv:
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server     # type: ignore[attr-defined]
        paths = Paths(srv, server.ldaps_port, server.settings.cert)
        assert await paths.basic("nobody1", "x") == 401
        assert await paths.basic("nobody2", "x") == 401
        assert await paths.idp("nobody3", "x") == 200
        assert await paths.ldap("nobody4", "x") == "invalidCredentials"
        # four different accounts from 127.0.0.1 on three paths: the address is locked
        assert await paths.basic("marie", "radioactivity") == 429
        assert await paths.idp("marie", "radioactivity") == 429
        assert await paths.ldap("marie", "radioactivity") == "invalidCredentials"


async def test_the_runtime_hands_every_service_one_throttle(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="7",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="30",
                              PROXY_LOGIN_FAILURE_WINDOW="90")
    async with embedded_server(config, only=["idm"]) as srv:
        throttle = srv.ctx.throttle
        assert (throttle.max_failures, throttle.address_max_failures, throttle.window) == (7, 30, 90)
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        assert unit.server.ctx.throttle is throttle     # type: ignore[attr-defined]


async def test_a_valid_app_token_does_not_reset_password_guesses(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_ENABLE_APP_AUTH="true", PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="100")
    async with embedded_server(config, only=["ocdav", "auth-app"]) as srv:
        user = await srv.ctx.users.get_by_name("einstein")
        assert srv.ctx.app_tokens is not None
        token, _ = await srv.ctx.app_tokens.create(user.id, lifetime=600)
        paths = Paths(srv, 0, Path())
        assert await paths.basic("einstein", "guess") == 401
        assert await paths.basic("einstein", "guess") == 401
        assert await paths.basic("einstein", token) == 207       # the token works ...
        assert await paths.basic("einstein", "guess") == 401     # ... and proves no password
        assert await paths.basic("einstein", token) == 429


# --- the rules, on the Throttle itself ---------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_success_forgets_only_its_own_paths_failures() -> None:
    t = Throttle(max_failures=3, window=60)
    t.failure("user:a", source="idp")
    t.failure("user:a", source="basic")
    t.success("user:a", source="basic")      # forgets the Basic typo, not the login-form guess
    t.failure("user:a", source="ldap")
    t.check("user:a")
    t.failure("user:a", source="basic")
    assert t.locked("user:a")


def test_success_never_lifts_a_lock_in_force() -> None:
    clock = Clock()
    t = Throttle(max_failures=2, window=60, lockout=30, clock=clock)
    t.check("user:a")                          # a slow request on one path passed its check ...
    t.failure("user:a", source="idp")
    t.failure("user:a", source="idp")          # ... while another path locked the account ...
    t.success("user:a", source="basic")        # ... then its password turned out right
    t.success("user:a", source="idp")
    with pytest.raises(TooManyRequests):
        t.check("user:a")
    clock.now += 31
    t.check("user:a")                          # only time unlocks
    t.success("user:a", source="idp")
    assert len(t) == 0                         # nothing left to remember


def test_addresses_have_their_own_limit() -> None:
    t = Throttle(max_failures=2, window=60, address_max_failures=4)
    t.failure("user:u0", "addr:192.0.2.1")
    t.failure("user:u0", "addr:192.0.2.1")
    t.failure("user:u1", "addr:192.0.2.1")
    assert t.locked("user:u0") and not t.locked("addr:192.0.2.1")     # 2 lock an account ...
    t.failure("user:u3", "addr:192.0.2.1")
    assert t.locked("addr:192.0.2.1") and not t.locked("user:u3")      # ... 4 an address
    with pytest.raises(ValueError):
        Throttle(address_max_failures=0)
