"""`oc:downloadURL` of a password-protected public link, as reva signs it (issue 17; reva
`propfind.go`, `publicshare.go` `CreateSignature`): a PROPFIND with the password gives each file a
public-files URL carrying `?signature=&expiration=` (30 minutes), which downloads without the
password; `oc:signature-auth` gives the pair. Tampered, re-dated or expired signatures, writes and
a changed password are refused (401). The owner's own namespace has no `oc:downloadURL` (neither
has oCIS)."""

from __future__ import annotations

import dataclasses
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest
from kit import basic

from ocis_server.auth import linksignature
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocis_server.storage import Link

SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
OWNER = {"Authorization": basic("einstein", "relativity")}
PASSWORD = "Secret-Pass-123!"
OC = "{http://owncloud.org/ns}"
PROPS = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
         "<d:prop><oc:downloadURL/><oc:signature-auth/></d:prop></d:propfind>")


@pytest.fixture
async def srv(tmp_path) -> AsyncIterator[EmbeddedServer]:    # type: ignore[no-untyped-def]
    async with embedded_server(make_test_config(tmp_path), only=["ocdav", "frontend"]) as server:
        async with aiohttp.ClientSession() as session:
            for method, path, data in (("MKCOL", "/pub", b""), ("MKCOL", "/pub/sub", b""),
                                       ("PUT", "/pub/in.txt", b"public bytes"),
                                       ("PUT", "/pub/sub/deep.txt", b"deep bytes"),
                                       ("PUT", "/own.txt", b"own bytes")):
                async with session.request(method, f"{server.url}/remote.php/dav/files/einstein"
                                           f"{path}", data=data, headers=OWNER) as resp:
                    assert resp.status == 201, path
        yield server


async def http(srv: EmbeddedServer, method: str, url: str, body: bytes | str = b"",
               **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.request(
            method, url if url.startswith("http") else srv.url + url, data=body,
            headers=headers) as resp:
        return resp.status, await resp.text()


async def make_link(srv: EmbeddedServer, permissions: str) -> tuple[str, str]:
    status, text = await http(srv, "POST", SHARES + "?format=json", **OWNER,
                              body="&".join(f"{k}={quote(v)}" for k, v in {
                                  "path": "/pub", "shareType": "3", "permissions": permissions,
                                  "password": PASSWORD}.items()),
                              **{"Content-Type": "application/x-www-form-urlencoded"})
    data = json.loads(text)["ocs"]["data"]
    assert status == 200, text
    return str(data["id"]), str(data["token"])


async def propfind(srv: EmbeddedServer, token: str) -> dict[str, tuple[str | None, ET.Element | None]]:
    status, text = await http(srv, "PROPFIND", f"/remote.php/dav/public-files/{token}/", PROPS,
                              Depth="1", Authorization=basic("public", PASSWORD))
    assert status == 207, text
    found: dict[str, tuple[str | None, ET.Element | None]] = {}
    for response in ET.fromstring(text).findall("{DAV:}response"):
        name = (response.findtext("{DAV:}href") or "").rstrip("/").rsplit("/", 1)[-1]
        ok = [ps for ps in response.findall("{DAV:}propstat")
              if "200" in (ps.findtext("{DAV:}status") or "")]
        prop = ok[0].find("{DAV:}prop") if ok else None
        url = prop.findtext(f"{OC}downloadURL") if prop is not None else None
        auth = prop.find(f"{OC}signature-auth") if prop is not None else None
        found[name] = (url, auth)
    return found


async def test_a_password_link_hands_out_signed_download_urls(srv: EmbeddedServer) -> None:
    _, token = await make_link(srv, "1")
    found = await propfind(srv, token)
    url, auth = found["in.txt"]
    assert found["sub"][0] is None                                 # folders: none
    assert url is not None and url.startswith(
        f"{srv.url}/remote.php/dav/public-files/{token}/in.txt?signature=")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert set(query) == {"signature", "expiration"}
    assert len(query["signature"]) == 64
    expires = datetime.strptime(query["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 29 * 60 <= expires.timestamp() - time.time() <= 31 * 60     # reva: 30 minutes
    # oc:signature-auth carries the same pair (ownCloud Web uses it for archive downloads)
    assert auth is not None
    assert auth.findtext(f"{OC}signature") == query["signature"]
    assert auth.findtext(f"{OC}expiration") == query["expiration"]
    # the URL downloads without the password; without the signature the password is asked for
    assert await http(srv, "GET", url) == (200, "public bytes")
    assert (await http(srv, "HEAD", url))[0] == 200
    plain = url.split("?", 1)[0]
    assert (await http(srv, "GET", plain))[0] == 401
    # the same signature opens the other files of the link (it signs the link, not the file)
    deep = plain.rsplit("/", 1)[0] + "/sub/deep.txt?" + urlsplit(url).query
    assert await http(srv, "GET", deep) == (200, "deep bytes")


async def test_forged_redated_or_writing_signatures_are_refused(srv: EmbeddedServer) -> None:
    share_id, token = await make_link(srv, "15")                    # an edit link
    url = (await propfind(srv, token))["in.txt"][0]
    assert url is not None
    plain, query = url.split("?", 1)
    sig = parse_qs(query)["signature"][0]
    exp = parse_qs(query)["expiration"][0]
    forged = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    later = exp.replace(exp[:4], str(int(exp[:4]) + 1), 1)          # a year later, same signature
    for bad in (f"signature={forged}&expiration={quote(exp)}",
                f"signature={sig}&expiration={quote(later)}",
                f"signature={sig}&expiration=not-a-date",
                f"signature=&expiration={quote(exp)}"):
        status, body = await http(srv, "GET", f"{plain}?{bad}")
        assert status == 401, (bad, body[:200])
        assert "<d:error" in body
    # a signature reads; writing still needs the password
    status, _ = await http(srv, "PUT", f"{plain}?{query}", b"overwritten")
    assert status == 401
    status, _ = await http(srv, "PUT", plain, b"overwritten", Authorization=basic("public", PASSWORD))
    assert status == 204
    assert await http(srv, "GET", url) == (200, "overwritten")
    # a new password voids every signature given out before
    status, text = await http(srv, "PUT", f"{SHARES}/{share_id}?format=json", **OWNER,
                              body="password=" + quote("Another-Pass-456!"),
                              **{"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, text
    assert (await http(srv, "GET", url))[0] == 401


async def test_expired_signature_is_refused() -> None:
    """The 30 minutes, without waiting them: a signature issued 31 minutes ago no longer opens
    the link, one issued 29 minutes ago still does; without a password nothing is signed."""
    link = Link(id="l1", token="tok", node_id="n", space_id="s", permissions=1,
                link_type="view", creator_id="u", ctime=0.0, mtime=0.0, password_hash="$argon2id$x",
                expiration=None, name="", quicklink=False)
    now = time.time()
    for age, ok in ((31 * 60, False), (29 * 60, True)):
        signed = linksignature.issue(link, now=now - age)
        assert signed is not None
        query = {"signature": signed.signature, "expiration": signed.expiration}
        assert linksignature.verify(link, query, "GET", now=now) is ok
        assert linksignature.verify(link, query, "PUT", now=now) is False
    open_link = dataclasses.replace(link, password_hash=None)
    assert linksignature.issue(open_link) is None


async def test_no_download_url_outside_public_links(srv: EmbeddedServer) -> None:
    """reva emits oc:downloadURL for public-link files only: the owner's namespace answers 404."""
    for path in ("/remote.php/dav/files/einstein/own.txt", "/remote.php/webdav/pub/in.txt"):
        status, text = await http(srv, "PROPFIND", path, PROPS, Depth="0", **OWNER)
        assert status == 207
        (response,) = ET.fromstring(text).findall("{DAV:}response")
        missing = [ps for ps in response.findall("{DAV:}propstat")
                   if "404" in (ps.findtext("{DAV:}status") or "")]
        assert missing and missing[0].find(f"{{DAV:}}prop/{OC}downloadURL") is not None, text
        assert missing[0].find(f"{{DAV:}}prop/{OC}signature-auth") is not None
