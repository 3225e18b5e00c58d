"""App tokens end to end: `/auth-app/tokens` create/list/revoke, and a token as the HTTP Basic
password of a WebDAV client (PROXY_ENABLE_APP_AUTH), expiring and revocable, stored hashed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from conftest import launch_real_server
from kit import basic, litmus_run

from ocis_server.domain.errors import BadRequest
from ocis_server.identity.apptokens import AppTokenStore
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocis_server.services.authapp.tokens import parse_duration

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    # Basic with passwords stays on for the set-up; one test turns it off on its own server.
    config = make_test_config(tmp_path_factory.mktemp("authapp"), PROXY_ENABLE_APP_AUTH="true",
                              AUTH_APP_ENABLE_IMPERSONATION="true",
                              PROXY_LOGIN_MAX_FAILURES="1000",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="1000")
    async with embedded_server(config, only=["ocdav", "auth-app"]) as server:
        yield server


async def call(srv: EmbeddedServer, method: str, path: str, auth: str,
               **headers: str) -> tuple[int, Any]:
    all_headers = {"Authorization": auth, **headers}
    async with aiohttp.ClientSession() as session, \
            session.request(method, srv.url + path, headers=all_headers) as resp:
        text = await resp.text()
        if resp.content_type == "application/json" and text:
            return resp.status, await resp.json()
        return resp.status, text


async def create(srv: EmbeddedServer, user: str, password: str, query: str = "expiry=72h") -> dict[str, Any]:
    status, body = await call(srv, "POST", f"/auth-app/tokens?{query}", basic(user, password))
    assert status == 200, body
    return body


async def test_create_use_list_and_revoke(srv: EmbeddedServer) -> None:
    created = await create(srv, "einstein", "relativity")
    token = created["token"]
    assert len(token) == 16 and token.isalnum()
    assert set(created) == {"token", "expiration_date", "created_date", "label"}
    status, _ = await call(srv, "PROPFIND", "/remote.php/dav/files/einstein/",
                           basic("einstein", token), Depth="0")
    assert status == 207
    # the token is einstein's only
    status, _ = await call(srv, "PROPFIND", "/remote.php/dav/files/marie/",
                           basic("marie", token), Depth="0")
    assert status == 401
    status, listed = await call(srv, "GET", "/auth-app/tokens", basic("einstein", "relativity"))
    assert status == 200 and len(listed) >= 1
    assert all(item["token"] != token for item in listed)          # only hashes are listed
    assert token not in str(listed)
    status, _ = await call(srv, "DELETE", f"/auth-app/tokens?token={token}",
                           basic("einstein", "relativity"))
    assert status == 200
    status, _ = await call(srv, "PROPFIND", "/remote.php/dav/files/einstein/",
                           basic("einstein", token), Depth="0")
    assert status == 401
    status, _ = await call(srv, "DELETE", f"/auth-app/tokens?token={token}",
                           basic("einstein", "relativity"))
    assert status == 404


async def test_revoke_by_listed_hash_and_database_holds_no_token(srv: EmbeddedServer) -> None:
    token = (await create(srv, "marie", "radioactivity"))["token"]
    db = srv.config.base_data_path / "idm" / "apptokens.db"
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert token not in dump
    _, listed = await call(srv, "GET", "/auth-app/tokens", basic("marie", "radioactivity"))
    hashed = listed[-1]["token"]
    # another user cannot revoke it
    status, _ = await call(srv, "DELETE", f"/auth-app/tokens?token={hashed}",
                           basic("einstein", "relativity"))
    assert status == 404
    status, _ = await call(srv, "DELETE", f"/auth-app/tokens?token={hashed}",
                           basic("marie", "radioactivity"))
    assert status == 200
    assert (await call(srv, "PROPFIND", "/remote.php/dav/files/marie/", basic("marie", token),
                       Depth="0"))[0] == 401


async def test_app_token_cannot_mint_tokens_and_only_admins_impersonate(srv: EmbeddedServer) -> None:
    token = (await create(srv, "einstein", "relativity"))["token"]
    status, _ = await call(srv, "POST", "/auth-app/tokens?expiry=1h", basic("einstein", token))
    assert status == 403
    status, _ = await call(srv, "POST", "/auth-app/tokens?expiry=1h&userName=marie",
                           basic("einstein", "relativity"))
    assert status == 403
    made = await create(srv, "admin", "admin", "expiry=1h&userName=marie")
    status, _ = await call(srv, "PROPFIND", "/remote.php/dav/files/marie/",
                           basic("marie", made["token"]), Depth="0")
    assert status == 207


async def test_impersonation_is_off_by_default(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_ENABLE_APP_AUTH="true")
    async with embedded_server(config, only=["ocdav", "auth-app"]) as server:
        status, body = await call(server, "POST", "/auth-app/tokens?expiry=1h&userName=marie",
                                  basic("admin", "admin"))
        assert status == 403 and "AUTH_APP_ENABLE_IMPERSONATION" in str(body)
        marie = await server.ctx.users.get_by_name("marie")
        status, _ = await call(server, "POST", f"/auth-app/tokens?expiry=1h&userID={marie.id}",
                               basic("admin", "admin"))
        assert status == 403
        assert server.ctx.app_tokens is not None
        assert await server.ctx.app_tokens.list(marie.id) == []       # nothing was made
        own = await create(server, "admin", "admin", "expiry=1h&userName=admin")
        assert len(own["token"]) == 16                                   # one's own: fine
        # listing another user's tokens stays admin work (nothing to impersonate with)
        status, body = await call(server, "GET", "/auth-app/tokens?userName=marie",
                                  basic("admin", "admin"))
        assert (status, body) == (200, [])


@pytest.mark.parametrize("expiry", ["", "abc", "-1h", "0s", "72", "99999999h", "1h30"])
async def test_bad_expiry_is_400(srv: EmbeddedServer, expiry: str) -> None:
    status, body = await call(srv, "POST", f"/auth-app/tokens?expiry={expiry}",
                              basic("einstein", "relativity"))
    assert status == 400 and "error" in body


async def test_parse_duration() -> None:
    assert parse_duration("72h") == 72 * 3600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90
    assert parse_duration("7d") == 7 * 86400
    with pytest.raises(BadRequest):
        parse_duration("1x")


async def test_expired_tokens_stop_working(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = await AppTokenStore.open(tmp_path / "t.db", clock=lambda: now[0])
    try:
        token, _ = await store.create("u1", lifetime=60)
        assert await store.verify("u1", token)
        assert not await store.verify("u2", token)
        now[0] += 61
        assert not await store.verify("u1", token)
        assert await store.list("u1") == []
    finally:
        await store.close()


async def test_app_auth_works_with_password_basic_off(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, basic_auth=False, PROXY_ENABLE_APP_AUTH="true")
    async with embedded_server(config, only=["ocdav", "auth-app"]) as other:
        user = await other.ctx.users.get_by_name("einstein")
        assert other.ctx.app_tokens is not None
        token, _ = await other.ctx.app_tokens.create(user.id, lifetime=3600)
        assert (await call(other, "PROPFIND", "/remote.php/dav/files/einstein/",
                           basic("einstein", token), Depth="0"))[0] == 207
        assert (await call(other, "PROPFIND", "/remote.php/dav/files/einstein/",
                           basic("einstein", "relativity"), Depth="0"))[0] == 401


async def test_app_tokens_refused_when_app_auth_is_off(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "auth-app"]) as other:
        user = await other.ctx.users.get_by_name("einstein")
        assert other.ctx.app_tokens is not None
        token, _ = await other.ctx.app_tokens.create(user.id, lifetime=3600)
        assert (await call(other, "PROPFIND", "/remote.php/dav/files/einstein/",
                           basic("einstein", token), Depth="0"))[0] == 401


# --- the real `ocis auth-app` CLI against a real server ----------------------------------------
def _ocis(server: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**server.env, "XDG_CONFIG_HOME": str(server.workdir / "xdg-cli"), **env}
    return subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=full, cwd=server.workdir,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          check=False)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.returncode}\n{result.stderr}"
    return result.stdout


def _dav_status(url: str, user: str, password: str) -> int:
    request = urllib.request.Request(f"{url}/remote.php/dav/files/{user}/", method="PROPFIND",
                                     headers={"Authorization": basic(user, password), "Depth": "0"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.slow
async def test_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    with launch_real_server(tmp_path / "cli", {"PROXY_ENABLE_APP_AUTH": "true",
                                               "AUTH_APP_ENABLE_IMPERSONATION": "true"}) as server:
        await asyncio.to_thread(_cli_flow, server)


def _cli_flow(server: Any) -> None:
    _ok(_ocis(server, "login", server.url, "--user", "admin", "--password-from-env",
              OCIS_PASSWORD="admin"))
    made = json.loads(_ok(_ocis(server, "auth-app", "create", "--user-name", "einstein",
                                "--expiration", "72h", "-o", "json")))
    token = made["token"]
    assert len(token) == 16 and made["label"] == "Generated via CLI"
    assert _dav_status(server.url, "einstein", token) == 207
    listed = json.loads(_ok(_ocis(server, "auth-app", "ls", "--user-name", "einstein", "-o", "json")))
    assert [t["token"].startswith("sha256:") for t in listed] == [True]
    text = _ok(_ocis(server, "auth-app", "create", "--expiration", "1h"))
    assert "App token created" in text
    _ok(_ocis(server, "auth-app", "rm", listed[0]["token"], "--user-name", "einstein"))
    assert _dav_status(server.url, "einstein", token) == 401
    bad = _ocis(server, "auth-app", "create", "--expiration", "soon")
    assert bad.returncode == 2 and "--expiration" in bad.stderr
    missing = _ocis(server, "auth-app", "rm", "nosuchtoken000000", "--user-name", "einstein")
    assert missing.returncode != 0


@pytest.mark.slow
async def test_litmus_with_an_app_token_as_password(tmp_path: Path) -> None:
    """A WebDAV client that knows only Basic (litmus) works with an app token, passwords off."""
    script = litmus_run()      # a missing litmus or harness fails, never skips (decision 0000)
    config = make_test_config(tmp_path, basic_auth=False, PROXY_ENABLE_APP_AUTH="true")
    async with embedded_server(config, only=["ocdav", "auth-app"]) as other:
        user = await other.ctx.users.get_by_name("einstein")
        assert other.ctx.app_tokens is not None
        token, _ = await other.ctx.app_tokens.create(user.id, lifetime=600)
        proc = await asyncio.create_subprocess_exec(
            "bash", str(script), f"{other.url}/remote.php/dav/files/einstein/", "einstein", token,
            env={**os.environ, "TESTS": "basic copymove"}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
    text = out.decode(errors="replace")
    assert proc.returncode == 0 and re.search(r"^\d+ passed, 0 failed$", text, re.MULTILINE), text
