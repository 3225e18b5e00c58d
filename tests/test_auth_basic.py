"""HTTP Basic through the proxy: password guessing is throttled per (account, client address) and
per client address (429 + Retry-After, before any password is checked), X-Forwarded-For counts only from a trusted
proxy, and turning Basic off really turns it off."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from kit import basic

from ocis_server.runtime import embedded_server, make_test_config

DAV = "/remote.php/dav/files/{user}/"


async def propfind(url: str, user: str, password: str, **headers: str) -> tuple[int, dict[str, str], str]:
    all_headers = {"Authorization": basic(user, password), "Depth": "0", **headers}
    async with aiohttp.ClientSession() as session, \
            session.request("PROPFIND", url + DAV.format(user=user), headers=all_headers) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def get(url: str, path: str, user: str, password: str) -> tuple[int, dict[str, str], str]:
    auth = {"Authorization": basic(user, password)}
    async with aiohttp.ClientSession() as session, session.get(url + path, headers=auth) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def test_account_is_throttled_after_failures(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_FAILURE_WINDOW="60",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    async with embedded_server(config, only=["ocdav", "graph", "frontend"]) as srv:
        assert (await propfind(srv.url, "einstein", "relativity"))[0] == 207
        for _ in range(3):
            assert (await propfind(srv.url, "einstein", "guess"))[0] == 401
        status, headers, body = await propfind(srv.url, "einstein", "relativity")
        assert status == 429, body        # even the right password waits: no oracle while locked
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert "TooManyRequests" in body and "relativity" not in body
        status, _, body = await get(srv.url, "/graph/v1.0/me", "einstein", "relativity")
        assert status == 429 and '"tooManyRequests"' in body
        status, _, body = await get(srv.url, "/ocs/v1.php/cloud/user", "einstein", "relativity")
        assert status == 429 and "<statuscode>429</statuscode>" in body
        # the address has 3 failures too: other accounts from it are throttled as well
        assert (await propfind(srv.url, "marie", "radioactivity"))[0] == 429


async def test_forwarded_for_does_not_bypass_the_address_limit(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_FAILURE_WINDOW="60",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    async with embedded_server(config, only=["ocdav"]) as srv:
        for i in range(3):      # different accounts, forged client addresses, one real peer
            status, _, _ = await propfind(srv.url, f"nobody{i}", "x", **{"X-Forwarded-For": f"10.0.0.{i}"})
            assert status == 401
        status, _, _ = await propfind(srv.url, "marie", "radioactivity",
                                      **{"X-Forwarded-For": "10.9.9.9"})
        assert status == 429


async def test_trusted_proxy_separates_clients_by_forwarded_for(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_FAILURE_WINDOW="60", PROXY_TRUSTED_PROXIES="127.0.0.1",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    async with embedded_server(config, only=["ocdav"]) as srv:
        for i in range(3):
            status, _, _ = await propfind(srv.url, f"nobody{i}", "x", **{"X-Forwarded-For": "198.51.100.7"})
            assert status == 401
        assert (await propfind(srv.url, "marie", "radioactivity",
                               **{"X-Forwarded-For": "198.51.100.7"}))[0] == 429
        assert (await propfind(srv.url, "marie", "radioactivity",
                               **{"X-Forwarded-For": "198.51.100.8"}))[0] == 207


async def test_success_resets_the_account_count(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_FAILURE_WINDOW="60", PROXY_TRUSTED_PROXIES="127.0.0.1",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    async with embedded_server(config, only=["ocdav"]) as srv:
        for n in range(3):
            # typos now and then by the owner, from changing addresses, never lock them out
            xff = {"X-Forwarded-For": f"192.0.2.{n}"}
            assert (await propfind(srv.url, "einstein", "typo", **xff))[0] == 401
            assert (await propfind(srv.url, "einstein", "typo", **xff))[0] == 401
            assert (await propfind(srv.url, "einstein", "relativity", **xff))[0] == 207


async def test_basic_off_means_off(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, basic_auth=False)
    async with embedded_server(config, only=["ocdav"]) as srv:
        status, headers, _ = await propfind(srv.url, "einstein", "relativity")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")


async def test_app_token_guessing_is_throttled_a_valid_token_is_not(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, basic_auth=False, PROXY_ENABLE_APP_AUTH="true",
                              PROXY_LOGIN_MAX_FAILURES="3", PROXY_LOGIN_FAILURE_WINDOW="60",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    async with embedded_server(config, only=["ocdav", "auth-app"]) as srv:
        user = await srv.ctx.users.get_by_name("einstein")
        assert srv.ctx.app_tokens is not None
        token, _ = await srv.ctx.app_tokens.create(user.id, lifetime=600)
        for guess in ("AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC"):
            assert (await propfind(srv.url, "einstein", guess))[0] == 401
        assert (await propfind(srv.url, "einstein", "DDDDDDDDDDDDDDDD"))[0] == 429
        # a real token is checked before the throttle: guessers cannot stop a sync client
        assert (await propfind(srv.url, "einstein", token))[0] == 207


async def test_one_locked_account_does_not_lock_its_neighbours(tmp_path: Path) -> None:
    # Many people share one address behind a NAT: the address limit is looser than the account's.
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="3",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="10")
    async with embedded_server(config, only=["ocdav"]) as srv:
        for _ in range(3):
            assert (await propfind(srv.url, "einstein", "guess"))[0] == 401
        assert (await propfind(srv.url, "einstein", "relativity"))[0] == 429
        assert (await propfind(srv.url, "marie", "radioactivity"))[0] == 207
        for i in range(7):
            assert (await propfind(srv.url, f"nobody{i}", "x"))[0] == 401
        assert (await propfind(srv.url, "marie", "radioactivity"))[0] == 429
