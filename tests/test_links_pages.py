"""The link landing pages over HTTP (no browser): `/s/<token>` password form with CSRF, folder
listing and downloads, file card, upload and file-drop forms, internal links, and `/f/<fileid>`
after login with the `ocis` command."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import aiohttp
import pytest

from ocis_server.runtime import embedded_server, make_test_config

API = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
EINSTEIN = {"Authorization": "Basic " + base64.b64encode(b"einstein:relativity").decode(),
            "OCS-APIREQUEST": "true"}


class Pages:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def link(self, path: str, **fields: str) -> dict[str, str]:
        async with self.session.post(self.url + API, params={"format": "json"},
                                     data={"shareType": "3", "path": path, **fields},
                                     headers=EINSTEIN) as resp:
            assert resp.status == 200
            return (await resp.json())["ocs"]["data"]

    async def get(self, path: str, **kw: object) -> tuple[int, str]:
        async with self.session.get(self.url + path, **kw) as resp:  # type: ignore[arg-type]
            return resp.status, await resp.text()

    async def own(self, path: str) -> bytes:
        async with self.session.get(self.url + "/remote.php/webdav" + path,
                                    headers=EINSTEIN) as resp:
            assert resp.status == 200
            return await resp.read()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
async def pages(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "frontend", "publiclinks"]) as srv, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        p = Pages(session, srv.url)
        for method, path, body in (("MKCOL", "/folder", None), ("MKCOL", "/folder/sub", None),
                                   ("PUT", "/folder/a <b>.txt", b"alpha"),
                                   ("PUT", "/folder/sub/deep.txt", b"deep")):
            async with session.request(method, srv.url + "/remote.php/webdav" + path,
                                       data=body, headers=EINSTEIN) as resp:
                assert resp.status == 201
        yield p


async def test_password_form_then_listing_and_download(pages: Pages) -> None:
    token = (await pages.link("/folder", password="Secret123!"))["token"]
    status, html = await pages.get(f"/s/{token}")
    assert status == 200 and 'type="password"' in html and "a &lt;b&gt;.txt" not in html
    assert "<script" not in html
    status, _ = await pages.get(f"/s/{token}/download", params={"path": "a <b>.txt"})
    assert status == 401
    form = {"csrf": csrf_of(html), "password": "wrong"}
    async with pages.session.post(f"{pages.url}/s/{token}/unlock", data=form) as resp:
        assert resp.status == 401 and "Wrong password" in await resp.text()
    async with pages.session.post(f"{pages.url}/s/{token}/unlock",
                                  data={"csrf": "forged", "password": "Secret123!"}) as resp:
        assert resp.status == 403                      # CSRF token mismatch
    form["password"] = "Secret123!"
    async with pages.session.post(f"{pages.url}/s/{token}/unlock", data=form) as resp:
        assert resp.status == 200                      # 303 followed to the listing
        html = await resp.text()
    assert "a &lt;b&gt;.txt" in html and "sub/" in html
    status, body = await pages.get(f"/s/{token}/download", params={"path": "a <b>.txt"})
    assert (status, body) == (200, "alpha")
    status, html = await pages.get(f"/s/{token}", params={"path": "sub"})
    assert status == 200 and "deep.txt" in html
    status, _ = await pages.get(f"/s/{token}/download", params={"path": "../folder"})
    assert status in (400, 404)


async def test_new_password_locks_the_page_again(pages: Pages) -> None:
    data = await pages.link("/folder", password="Secret123!")
    token = data["token"]
    _, html = await pages.get(f"/s/{token}")
    async with pages.session.post(f"{pages.url}/s/{token}/unlock",
                                  data={"csrf": csrf_of(html), "password": "Secret123!"}) as resp:
        assert "sub/" in await resp.text()
    async with pages.session.put(f"{pages.url}{API}/{data['id']}", params={"format": "json"},
                                 data={"password": "Changed456!"}, headers=EINSTEIN) as resp:
        assert resp.status == 200
    status, html = await pages.get(f"/s/{token}")
    assert status == 200 and 'type="password"' in html


async def test_file_link_card(pages: Pages) -> None:
    token = (await pages.link("/folder/sub/deep.txt"))["token"]
    status, html = await pages.get(f"/s/{token}")
    assert status == 200 and 'id="name">deep.txt<' in html and 'id="download"' in html
    assert "upload" not in html.lower()
    assert await pages.get(f"/s/{token}/download") == (200, "deep")


async def test_file_drop_upload_form_renames(pages: Pages) -> None:
    token = (await pages.link("/folder", permissions="4"))["token"]
    status, html = await pages.get(f"/s/{token}")
    assert status == 200 and 'type="file"' in html and "a &lt;b&gt;.txt" not in html
    for content in (b"first", b"second"):
        form = aiohttp.FormData()
        form.add_field("csrf", csrf_of(html))
        form.add_field("file", content, filename="drop.txt")
        async with pages.session.post(f"{pages.url}/s/{token}/upload", data=form) as resp:
            assert resp.status == 200
            assert "Uploaded" in await resp.text()
    assert await pages.own("/folder/drop.txt") == b"first"
    assert await pages.own("/folder/drop (2).txt") == b"second"
    status, _ = await pages.get(f"/s/{token}/download", params={"path": "drop.txt"})
    assert status == 403
    form = aiohttp.FormData()
    form.add_field("csrf", "forged")
    form.add_field("file", b"x", filename="x.txt")
    async with pages.session.post(f"{pages.url}/s/{token}/upload", data=form) as resp:
        assert resp.status == 403


async def test_view_link_has_no_upload(pages: Pages) -> None:
    token = (await pages.link("/folder", permissions="1"))["token"]
    status, html = await pages.get(f"/s/{token}")
    assert status == 200 and 'type="file"' not in html
    form = aiohttp.FormData()
    form.add_field("csrf", csrf_of(html) if 'name="csrf"' in html else "x")
    form.add_field("file", b"x", filename="x.txt")
    async with pages.session.post(f"{pages.url}/s/{token}/upload", data=form) as resp:
        assert resp.status == 403


async def test_unknown_token_and_private_link(pages: Pages) -> None:
    status, html = await pages.get("/s/doesnotexist12345")
    assert status == 404 and "Traceback" not in html
    data = await pages.link("/folder/sub/deep.txt")
    status, _ = await pages.get(f"/f/{data['item_source']}")
    assert status == 401
    status, html = await pages.get(f"/f/{data['item_source']}", headers=EINSTEIN)
    assert status == 200 and "ocis get /folder/sub/deep.txt" in html
    marie = {"Authorization": "Basic " + base64.b64encode(b"marie:radioactivity").decode()}
    status, _ = await pages.get(f"/f/{data['item_source']}", headers=marie)
    assert status == 404


async def test_internal_link_sends_to_the_private_link(pages: Pages) -> None:
    data = await pages.link("/folder", permissions="0")
    assert data["permissions"] == 0
    async with pages.session.get(f"{pages.url}/s/{data['token']}",
                                 allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/f/")
    url = f"{pages.url}/dav/public-files/{data['token']}/"
    async with pages.session.request("PROPFIND", url) as resp:
        assert resp.status == 401                 # an internal link grants nothing itself
    async with pages.session.request("PROPFIND", url, headers=EINSTEIN,
                                     allow_redirects=False) as resp:
        assert resp.status == 307
        location = resp.headers["Location"]
    assert location.startswith("/dav/spaces/") and data["item_source"].split("!")[1] in location
    async with pages.session.request("PROPFIND", pages.url + location,
                                     headers=EINSTEIN) as resp:
        assert resp.status == 207
