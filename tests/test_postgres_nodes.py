"""Two front nodes over one PostgreSQL (`OCIS_DATABASE_URL`): two real `ocis server` subprocesses,
each with its own data folder and port, sharing app tokens, IdP sign-ins and refresh tokens, and
the login throttle's failure counters. PostgreSQL stopped: 503 with Retry-After on what needs it;
started again: works without restarting the nodes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from conftest import RealServer, launch_real_server
from idp_helpers import LOOPBACK, forms, pkce, query_of
from pgcluster import PgCluster, postgres  # noqa: F401 - the fixture

pytestmark = pytest.mark.scaleout
ADMIN = aiohttp.BasicAuth("admin", "admin")
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
COMMON = {"PROXY_ENABLE_APP_AUTH": "true", "PROXY_LOGIN_MAX_FAILURES": "4",
          "PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS": "50", "PROXY_LOGIN_FAILURE_DELAY": "0",
          "PROXY_LOGIN_FAILURE_WINDOW": "300"}


@dataclass
class Nodes:
    a: RealServer
    b: RealServer
    db: PgCluster


@pytest.fixture
def nodes(postgres: PgCluster, tmp_path: Path) -> Iterator[Nodes]:  # noqa: F811
    env = {"OCIS_DATABASE_URL": postgres.url, **COMMON}
    with launch_real_server(tmp_path / "a", env) as a:
        # The second node is another machine with the same ocis.toml: the same admin id.
        toml = tomllib.loads((tmp_path / "a" / "config" / "ocis.toml").read_text())
        with launch_real_server(tmp_path / "b",
                                {**env, "OCIS_ADMIN_USER_ID": toml["admin_user_id"]}) as b:
            yield Nodes(a, b, postgres)


async def call(s: aiohttp.ClientSession, method: str, url: str,
               auth: aiohttp.BasicAuth | None = None,
               **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    async with s.request(method, url, auth=auth, allow_redirects=False, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, dict(resp.headers), body


async def until_back(s: aiohttp.ClientSession, method: str, url: str,
                     auth: aiohttp.BasicAuth) -> tuple[int, Any]:
    """Poll while the node answers 503 (the database coming back), at most 20 s."""
    deadline = time.monotonic() + 20
    while True:
        status, _, body = await call(s, method, url, auth)
        if status != 503 or time.monotonic() > deadline:
            return status, body
        await asyncio.sleep(0.2)


def assert_unavailable(status: int, headers: dict[str, str], body: Any, db: PgCluster) -> None:
    assert status == 503, body
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert str(db.port) not in str(body) and "Traceback" not in str(body)


async def test_an_app_token_made_through_one_node_works_on_the_other(nodes: Nodes) -> None:
    async with aiohttp.ClientSession() as s:
        status, _, made = await call(s, "POST", nodes.a.url + "/auth-app/tokens?expiry=1h",
                                     EINSTEIN)
        assert status == 200, made
        token = aiohttp.BasicAuth("einstein", made["token"])
        status, _, body = await call(s, "PROPFIND", nodes.b.url + "/remote.php/dav/files/einstein",
                                     token, headers={"Depth": "0"})
        assert status == 207, body
        status, _, listed = await call(s, "GET", nodes.b.url + "/auth-app/tokens", EINSTEIN)
        assert status == 200 and [t["token"] for t in listed] == [
            "sha256:" + hashlib.sha256(made["token"].encode()).hexdigest()]
        # Revoked through B: A refuses it on the next request.
        status, _, _ = await call(s, "DELETE", nodes.b.url + f"/auth-app/tokens?token={made['token']}",
                                  EINSTEIN)
        assert status == 200
        status, _, _ = await call(s, "PROPFIND", nodes.a.url + "/remote.php/dav/files/einstein",
                                  token, headers={"Depth": "0"})
        assert status == 401

        status, _, made = await call(s, "POST", nodes.b.url + "/auth-app/tokens?expiry=1h",
                                     EINSTEIN)
        assert status == 200, made
        token = aiohttp.BasicAuth("einstein", made["token"])
        nodes.db.stop()
        for node in (nodes.a, nodes.b):
            status, headers, body = await call(s, "GET", node.url + "/auth-app/tokens", token)
            assert_unavailable(status, headers, body, nodes.db)
            async with s.get(node.url + "/status.php") as resp:
                assert resp.status == 200
        nodes.db.start()
        for node in (nodes.a, nodes.b):
            status, body = await until_back(s, "PROPFIND", node.url + "/remote.php/dav/files/einstein",
                                            token)
            assert status == 207, body


async def sign_in(s: aiohttp.ClientSession, base: str, username: str,
                  password: str) -> tuple[str, str]:
    """A browser signing in at `base`'s IdP for ocis-cli (PKCE, loopback redirect): (code,
    verifier). Follows the login and consent pages as a person would."""
    verifier, challenge = pkce()
    params = {"client_id": "ocis-cli", "redirect_uri": LOOPBACK, "response_type": "code",
              "scope": "openid profile email offline_access", "state": "st-1",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    async with s.get(base + "/signin/v1/identifier/_/authorize?" + urlencode(params),
                     allow_redirects=False) as resp:
        status, location, text = resp.status, resp.headers.get("Location", ""), await resp.text()
    for _ in range(5):
        if status in (302, 303) and location.startswith(LOOPBACK):
            break
        if status in (302, 303):
            url = location if location.startswith("http") else base + location
            async with s.get(url, allow_redirects=False) as resp:
                status, location, text = (resp.status, resp.headers.get("Location", ""),
                                          await resp.text())
            continue
        assert status == 200, text
        page = forms(text)
        form = page.get("login") or page["consent"]
        data = {**form["fields"], "username": username, "password": password} \
            if "login" in page else {**form["fields"], "decision": "allow"}
        action = form["action"] if form["action"].startswith("http") else base + form["action"]
        async with s.post(action, data=data, allow_redirects=False) as resp:
            status, location, text = (resp.status, resp.headers.get("Location", ""),
                                      await resp.text())
    query = query_of(location)
    assert query.get("state") == "st-1", (status, location, text[-500:])
    return query["code"], verifier


async def token(s: aiohttp.ClientSession, base: str, **form: str) -> tuple[int, Any]:
    async with s.post(base + "/konnect/v1/token", data={"client_id": "ocis-cli", **form}) as resp:
        return resp.status, await resp.json()


async def me(s: aiohttp.ClientSession, base: str, access: str) -> tuple[int, Any]:
    async with s.get(base + "/graph/v1.0/me",
                     headers={"Authorization": f"Bearer {access}"}) as resp:
        return resp.status, await resp.text()


async def test_sign_in_through_one_node_and_refresh_through_the_other(nodes: Nodes) -> None:
    a, b = nodes.a.url, nodes.b.url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        code, verifier = await sign_in(s, a, "einstein", "relativity")
        # The code made on A is redeemed on B (the IdP tables are shared), once only.
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK,
                 "code_verifier": verifier}
        status, first = await token(s, b, **grant)
        assert status == 200, first
        status, text = await me(s, b, first["access_token"])
        assert status == 200 and "einstein" in text, text
        # Refreshed through A, then again through B with the rotated token.
        status, second = await token(s, a, grant_type="refresh_token",
                                     refresh_token=first["refresh_token"])
        assert status == 200, second
        status, text = await me(s, a, second["access_token"])
        assert status == 200 and "einstein" in text, text
        status, third = await token(s, b, grant_type="refresh_token",
                                    refresh_token=second["refresh_token"])
        assert status == 200, third
        # The rotated token replayed on B: refused, and the family is revoked on A as well.
        status, body = await token(s, b, grant_type="refresh_token",
                                   refresh_token=first["refresh_token"])
        assert status == 400 and body["error"] == "invalid_grant", body
        status, body = await token(s, a, grant_type="refresh_token",
                                   refresh_token=third["refresh_token"])
        assert status == 400 and body["error"] == "invalid_grant", body
        # A code is single use on every node: a second sign-in's code, redeemed on A, replayed
        # on B, is refused there and revokes what it produced on A too.
        code, verifier = await sign_in(s, b, "einstein", "relativity")
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK,
                 "code_verifier": verifier}
        status, fourth = await token(s, a, **grant)
        assert status == 200, fourth
        status, body = await token(s, b, **grant)
        assert status == 400 and body["error"] == "invalid_grant", body
        status, body = await token(s, a, grant_type="refresh_token",
                                   refresh_token=fourth["refresh_token"])
        assert status == 400 and body["error"] == "invalid_grant", body

        nodes.db.stop()
        status, body = await token(s, b, grant_type="refresh_token", refresh_token="x" * 40)
        assert status == 503, body
        nodes.db.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                code, verifier = await sign_in(s, b, "einstein", "relativity")
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        status, body = await token(s, a, grant_type="authorization_code", code=code,
                                   redirect_uri=LOOPBACK, code_verifier=verifier)
        assert status == 200, (body, nodes.a.log_tail())


async def test_the_login_throttle_counts_failures_from_both_nodes(nodes: Nodes) -> None:
    """PROXY_LOGIN_MAX_FAILURES=4: two wrong passwords through each node lock the pair on both
    (in memory per node, each would have seen two and let the right one in)."""
    dav = "/remote.php/dav/files/marie"
    wrong, right = aiohttp.BasicAuth("marie", "wrong-guess"), aiohttp.BasicAuth("marie", "radioactivity")
    async with aiohttp.ClientSession() as s:
        for node in (nodes.a, nodes.b, nodes.a):
            status, _, _ = await call(s, "PROPFIND", node.url + dav, wrong, headers={"Depth": "0"})
            assert status == 401
        # Three failures so far: the right password still passes, on B.
        status, _, body = await call(s, "PROPFIND", nodes.b.url + dav, right, headers={"Depth": "0"})
        assert status == 207, body
    async with aiohttp.ClientSession() as s:
        # moss fails 4 times, twice through each node: locked on both, even with the right password.
        wrong, right = aiohttp.BasicAuth("moss", "nope"), aiohttp.BasicAuth("moss", "vista")
        for node in (nodes.a, nodes.b, nodes.a, nodes.b):
            status, _, _ = await call(s, "PROPFIND", node.url + "/remote.php/dav/files/moss",
                                      wrong, headers={"Depth": "0"})
            assert status == 401
        for node in (nodes.a, nodes.b):
            status, headers, _ = await call(s, "PROPFIND", node.url + "/remote.php/dav/files/moss",
                                            right, headers={"Depth": "0"})
            assert status == 429 and int(headers["Retry-After"]) > 0
        # einstein is not locked by moss's failures (another pair).
        status, _, body = await call(s, "PROPFIND", nodes.a.url + "/remote.php/dav/files/einstein",
                                     EINSTEIN, headers={"Depth": "0"})
        assert status == 207, body


async def test_settings_values_and_signing_keys_follow_the_user_across_nodes(nodes: Nodes) -> None:
    """They belong with the user, not with the node's storage provider: a language chosen through
    A is einstein's on B; the URL signing key is one key on both, and a rotation on B counts on A."""
    key_path = "/ocs/v1.php/cloud/user/signing-key?format=json"
    async with aiohttp.ClientSession() as s:
        status, _, body = await call(s, "PATCH", nodes.a.url + "/graph/v1.0/me", EINSTEIN,
                                     json={"preferredLanguage": "de"})
        assert status == 200, body
        status, _, body = await call(s, "GET", nodes.b.url + "/graph/v1.0/me", EINSTEIN)
        assert status == 200 and body["preferredLanguage"] == "de", body
        keys = []
        for node in (nodes.b, nodes.a):
            status, _, body = await call(s, "GET", node.url + key_path, EINSTEIN)
            assert status == 200, body
            keys.append(body["ocs"]["data"]["signing-key"])
        assert keys[0] == keys[1] and len(keys[0]) == 128
        status, _, body = await call(s, "DELETE", nodes.b.url + key_path, EINSTEIN)
        assert status == 200, body
        status, _, body = await call(s, "GET", nodes.a.url + key_path, EINSTEIN)
        assert status == 200 and body["ocs"]["data"]["signing-key"] not in keys, body

        nodes.db.stop()
        status, headers, body = await call(s, "GET", nodes.a.url + "/graph/v1.0/me", EINSTEIN)
        assert_unavailable(status, headers, body, nodes.db)
        nodes.db.start()
        status, body = await until_back(s, "GET", nodes.b.url + "/graph/v1.0/me", EINSTEIN)
        assert status == 200 and body["preferredLanguage"] == "de", body


@pytest.fixture
def balanced(postgres: PgCluster, tmp_path: Path) -> Iterator[Nodes]:  # noqa: F811
    """Two nodes as behind one balancer: the same OCIS_URL (so the same token issuer), keys
    rotated every 8 s."""
    env = {"OCIS_DATABASE_URL": postgres.url, "IDP_KEY_ROTATION_INTERVAL": "8", **COMMON}
    with launch_real_server(tmp_path / "a", env) as a:
        toml = tomllib.loads((tmp_path / "a" / "config" / "ocis.toml").read_text())
        with launch_real_server(tmp_path / "b", {**env, "OCIS_URL": a.url,
                                                 "OCIS_ADMIN_USER_ID": toml["admin_user_id"]}) as b:
            yield Nodes(a, b, postgres)


def kid_of(jwt: str) -> str:
    head = jwt.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


async def test_a_token_signed_through_one_node_verifies_on_the_other_across_rotations(
        balanced: Nodes) -> None:
    a, b = balanced.a.url, balanced.b.url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        code, verifier = await sign_in(s, a, "einstein", "relativity")
        status, first = await token(s, a, grant_type="authorization_code", code=code,
                                    redirect_uri=LOOPBACK, code_verifier=verifier)
        assert status == 200, first
        status, text = await me(s, b, first["access_token"])
        assert status == 200 and "einstein" in text, text
        # A new key (the rotation, once for both nodes): B's refreshed token verifies on A,
        # and the first token, signed with the retired key, still verifies on B.
        deadline = time.monotonic() + 30
        while True:
            status, second = await token(s, b, grant_type="refresh_token",
                                         refresh_token=first["refresh_token"])
            assert status == 200, second
            if kid_of(second["access_token"]) != kid_of(first["access_token"]):
                break
            assert time.monotonic() < deadline, "the signing key was not rotated"
            first = second
            await asyncio.sleep(1)
        for node in (a, b):
            status, text = await me(s, node, second["access_token"])
            assert status == 200 and "einstein" in text, (node, text)
        status, text = await me(s, b, first["access_token"])
        assert status == 200, text
        async with s.get(a + "/konnect/v1/jwks.json") as ra, \
                s.get(b + "/konnect/v1/jwks.json") as rb:
            kids_a = {k["kid"] for k in (await ra.json())["keys"]}
            kids_b = {k["kid"] for k in (await rb.json())["keys"]}
        assert kid_of(second["access_token"]) in kids_a & kids_b
