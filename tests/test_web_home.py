"""The start page `/` and the `web` client's sign-in over HTTP (no browser; tests/browser has the
Chromium walk-through): what a signed-out visitor sees, the code flow with PKCE through the real
IdP, the signed-in page from the server's own Graph API, the session cookie on `/f/<id>` (GET
only), refused callbacks, and that paths no service owns stay a plain 404."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from ocis_server.runtime import embedded_server, make_test_config


@pytest.fixture
async def site(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config) as srv, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield srv.url, session


async def _sign_in(url: str, session: aiohttp.ClientSession, user: str, password: str) -> str:
    """/login -> the IdP's form -> /oidc-callback.html -> /; returns the final page."""
    async with session.get(f"{url}/login", allow_redirects=False) as resp:
        assert resp.status == 303
        authorize = resp.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == ["web"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{url}/oidc-callback.html"]
    async with session.get(authorize) as resp:
        form = await resp.text()
        action = re.search(r'<form[^>]*action="([^"]+)"', form)
        fields = {k: html.unescape(v) for k, v in
                  re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
    assert action, form
    target = html.unescape(action.group(1))
    async with session.post(url + target if target.startswith("/") else target,
                            data={**fields, "username": user, "password": password}) as resp:
        assert resp.status == 200, await resp.text()
        assert str(resp.url).rstrip("/") == url
        return await resp.text()


async def test_signed_out_page_says_how_to_connect(site) -> None:
    url, session = site
    async with session.get(f"{url}/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "script-src" not in resp.headers["Content-Security-Policy"]
        html = await resp.text()
    for text in (f'id="server-url">{url}<', f"{url}/remote.php/webdav/",
                 f"ocis login {url}", 'href="/login"'):
        assert text in html
    assert 'id="spaces"' not in html and "<script" not in html


async def test_sign_in_shows_spaces_and_the_session_opens_private_links(site) -> None:
    url, session = site
    html = await _sign_in(url, session, "einstein", "relativity")
    assert "Signed in as Albert Einstein" in html
    personal = re.search(r'<tr class="space"><td><a href="([^"]+/f/[^"]+)">Albert Einstein</a>',
                         html)
    assert personal, html
    assert 'id="no-waiting"' in html            # nothing shared with einstein yet
    async with session.get(personal.group(1)) as resp:   # the cookie signs the /f page in
        assert resp.status == 200 and 'id="name"' in await resp.text()
    async with session.request("PROPFIND", f"{url}/remote.php/webdav/",
                               headers={"Depth": "0"}) as resp:
        assert resp.status == 401                 # the cookie is no credential for WebDAV
    async with session.post(personal.group(1)) as resp:
        assert resp.status in (401, 405)          # nor for anything but GET on the pages

    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    async with session.post(f"{url}/logout", data={"csrf": "forged"}) as resp:
        assert resp.status == 400
    async with session.post(f"{url}/logout", data={"csrf": csrf.group(1)}) as resp:
        assert resp.status == 200 and 'href="/login"' in await resp.text()
    async with session.get(personal.group(1)) as resp:
        assert resp.status == 401


async def test_callbacks_without_a_code_or_with_a_forged_state(site) -> None:
    url, session = site
    for path in ("/oidc-callback.html", "/oidc-silent-redirect.html"):
        async with session.get(url + path, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/"
    async with session.get(f"{url}/oidc-callback.html?code=abc&state=forged") as resp:
        assert resp.status == 400 and "sign in again" in await resp.text()
    async with session.get(f"{url}/oidc-callback.html?error=access_denied") as resp:
        assert resp.status == 400 and "access_denied" in await resp.text()


async def test_paths_no_service_owns_stay_a_plain_404(site) -> None:
    url, session = site
    async with session.get(f"{url}/nothing-here") as resp:
        assert resp.status == 404 and "ownCloud Infinite Scale" not in await resp.text()
    async with session.get(f"{url}/f") as resp:
        assert resp.status == 401                 # /f is still the private links'


async def test_a_session_cookie_that_is_no_longer_valid_signs_out(site) -> None:
    url, session = site
    session.cookie_jar.update_cookies({"ocis-web-session": "not-a-token"}, response_url=url_of(url))
    async with session.get(f"{url}/") as resp:
        html = await resp.text()
        assert resp.status == 200 and "Your session has ended" in html and 'href="/login"' in html
        assert "ocis-web-session=" in resp.headers.get("Set-Cookie", "")      # forgotten


def url_of(url: str):  # type: ignore[no-untyped-def]
    from yarl import URL
    return URL(url)
