"""Pre-signed URLs over HTTP against a real server, signed here the way ownCloud Web and oCIS's
proxy do it (PBKDF2-SHA512, 10000 rounds, 32 bytes, over `https://<host><path>?<query>`): the
signing-key endpoint, downloads without credentials, and every refusal (expired, forged, wrong
verb, another user's key, a rotated key) answered 401 in the service's own body, never 500."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from kit import basic

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORDS = {"einstein": "relativity", "marie": "radioactivity"}
EINSTEIN = "4c510ada-c86b-4815-8820-42cdf82c3d51"
FILE = "/remote.php/dav/files/einstein/signed.txt"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    config = make_test_config(tmp_path_factory.mktemp("signed"),
                              PROXY_LOGIN_MAX_FAILURES="1000",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="1000")
    async with embedded_server(config, only=["ocdav", "frontend", "graph"]) as server:
        async with aiohttp.ClientSession() as session, session.put(
                server.url + FILE, data=b"signed content",
                headers={"Authorization": basic("einstein", "relativity")}) as resp:
            assert resp.status == 201
        yield server


async def call(srv: EmbeddedServer, method: str, url: str, user: str | None = None,
               **headers: str) -> tuple[int, str, Any]:
    if user:
        headers["Authorization"] = basic(user, PASSWORDS[user])
    async with aiohttp.ClientSession() as session, \
            session.request(method, url if url.startswith("http") else srv.url + url,
                            headers=headers) as resp:
        return resp.status, await resp.text(), resp.headers


async def signing_key(srv: EmbeddedServer, user: str, version: str = "v1") -> str:
    status, text, _ = await call(srv, "GET", f"/ocs/{version}.php/cloud/user/signing-key"
                                 "?format=json", user)
    assert status == 200, text
    data = json.loads(text)["ocs"]["data"]
    return str(data["signing-key"])


def sign(srv: EmbeddedServer, path: str, key: str, *, user: str = "einstein", verb: str = "GET",
         date: datetime | None = None, expires: int = 1200, extra: dict[str, str] | None = None,
         scheme: str = "https") -> str:
    """The URL as a client signs it: OC-* parameters after the others, the signature over
    `<scheme>://<host><path>?<query>` with OC-Algo and OC-Signature added afterwards."""
    host = urlsplit(srv.url).netloc
    stamp = (date or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    signed = {"OC-Credential": user, "OC-Date": stamp, "OC-Expires": str(expires),
              "OC-Verb": verb}
    rest = urlencode(sorted((extra or {}).items()))
    query = (rest + "&" if rest else "") + urlencode(signed)
    digest = hashlib.pbkdf2_hmac("sha512", f"{scheme}://{host}{path}?{query}".encode(),
                                 key.encode(), 10000, 32).hex()
    return f"{srv.url}{path}?{query}&OC-Algo=PBKDF2%2F10000-SHA512&OC-Signature={digest}"


async def test_capability_and_signing_key(srv: EmbeddedServer) -> None:
    status, text, _ = await call(srv, "GET", "/ocs/v1.php/cloud/capabilities?format=json")
    assert '"support-url-signing": true' in text
    key = await signing_key(srv, "einstein")
    assert len(key) == 128 and int(key, 16) >= 0
    assert await signing_key(srv, "einstein", "v2") == key          # stable, v1 and v2
    assert await signing_key(srv, "marie") != key                    # per user
    status, text, _ = await call(srv, "GET", "/ocs/v2.php/cloud/user/signing-key?format=json",
                                 "einstein")
    assert EINSTEIN in text
    status, _, _ = await call(srv, "GET", "/ocs/v2.php/cloud/user/signing-key")
    assert status == 401


async def test_signed_download_without_credentials(srv: EmbeddedServer) -> None:
    key = await signing_key(srv, "einstein")
    status, body, _ = await call(srv, "GET", sign(srv, FILE, key))
    assert status == 200 and body == "signed content"
    # other query parameters come first in what is signed
    status, body, _ = await call(srv, "GET", sign(srv, FILE, key, extra={"x": "a b", "a": "1"}))
    assert status == 200 and body == "signed content"
    # signed over the server's own scheme (http here) also holds
    status, body, _ = await call(srv, "GET", sign(srv, FILE, key, scheme="http"))
    assert status == 200


async def refused(srv: EmbeddedServer, method: str, url: str) -> str:
    status, body, headers = await call(srv, method, url)
    assert status == 401, (status, body)
    assert "WWW-Authenticate" in headers
    assert "Traceback" not in body
    return body


async def test_refusals(srv: EmbeddedServer) -> None:
    key = await signing_key(srv, "einstein")
    marie_key = await signing_key(srv, "marie")
    past = datetime.now(UTC) - timedelta(hours=2)
    body = await refused(srv, "GET", sign(srv, FILE, key, date=past, expires=60))   # expired
    assert "<s:exception>" in body                                    # the DAV error body
    good = sign(srv, FILE, key)
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    await refused(srv, "GET", forged)                                 # forged
    await refused(srv, "GET", good.replace("signed.txt", "other.txt"))  # another path
    await refused(srv, "GET", sign(srv, FILE, marie_key))             # another user's key
    await refused(srv, "GET", sign(srv, FILE, key, user="nobody"))    # unknown credential
    await refused(srv, "PUT", good)                                   # OC-Verb is GET
    await refused(srv, "PUT", sign(srv, FILE, key, verb="PUT"))       # PUT is not allowed
    await refused(srv, "PROPFIND", sign(srv, FILE, key, verb="PROPFIND"))
    await refused(srv, "GET", good.replace("OC-Expires=1200", "OC-Expires=soon"))
    await refused(srv, "GET", good.replace("OC-Date=", "OC-Date=x"))
    await refused(srv, "GET", good.replace("OC-Algo=PBKDF2%2F10000-SHA512", "OC-Algo=MD5"))
    await refused(srv, "GET", good.replace("&OC-Verb=GET", ""))       # a parameter missing
    # OCS answers its own 401 envelope
    status, text, _ = await call(srv, "GET", sign(srv, "/ocs/v1.php/cloud/user", key)[:-2] + "zz")
    assert status == 401 and "<statuscode>997</statuscode>" in text


async def test_signed_url_cannot_fetch_the_key(srv: EmbeddedServer) -> None:
    key = await signing_key(srv, "einstein")
    status, text, _ = await call(srv, "GET", sign(srv, "/ocs/v2.php/cloud/user/signing-key",
                                                  key))
    assert status == 403 and key not in text          # v2: the HTTP status is the OCS one
    status, text, _ = await call(srv, "GET", sign(srv, "/ocs/v1.php/cloud/user/signing-key",
                                                  key))
    assert "<statuscode>104</statuscode>" in text and key not in text   # v1: forbidden


async def test_rotation_invalidates_old_urls(srv: EmbeddedServer) -> None:
    old = await signing_key(srv, "marie")
    status, _, _ = await call(srv, "PUT", "/remote.php/dav/files/marie/m.txt", "marie")
    url = sign(srv, "/remote.php/dav/files/marie/m.txt", old, user="marie")
    status, _, _ = await call(srv, "GET", url)
    assert status == 200
    status, _, _ = await call(srv, "DELETE", "/ocs/v2.php/cloud/user/signing-key", "marie")
    assert status == 200
    new = await signing_key(srv, "marie")
    assert new != old
    await refused(srv, "GET", url)
    status, _, _ = await call(srv, "GET", sign(srv, "/remote.php/dav/files/marie/m.txt", new,
                                               user="marie"))
    assert status == 200


PROPFIND_DOWNLOAD = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                     "<d:prop><oc:downloadURL/></d:prop></d:propfind>")


async def _link(srv: EmbeddedServer, path: str, **extra: str) -> str:
    async with aiohttp.ClientSession() as session, session.post(
            srv.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json",
            data={"path": path, "shareType": "3", "permissions": "1", **extra},
            headers={"Authorization": basic("einstein", "relativity")}) as resp:
        body = json.loads(await resp.text())
        assert resp.status == 200, body
        return str(body["ocs"]["data"]["token"])


async def test_download_url_in_public_link_propfind(srv: EmbeddedServer) -> None:
    auth = {"Authorization": basic("einstein", "relativity")}
    async with aiohttp.ClientSession() as session:
        async with session.request("MKCOL", srv.url + "/remote.php/dav/files/einstein/pub",
                                   headers=auth) as resp:
            assert resp.status == 201
        async with session.put(srv.url + "/remote.php/dav/files/einstein/pub/in.txt",
                               data=b"public bytes", headers=auth) as resp:
            assert resp.status == 201
    token = await _link(srv, "/pub")
    async with aiohttp.ClientSession() as session, session.request(
            "PROPFIND", f"{srv.url}/remote.php/dav/public-files/{token}/",
            data=PROPFIND_DOWNLOAD, headers={"Depth": "1"}) as resp:
        assert resp.status == 207
        root = ET.fromstring(await resp.text())
    found: dict[str, str | None] = {}
    for response in root.findall("{DAV:}response"):
        href = response.findtext("{DAV:}href") or ""
        ok = [ps for ps in response.findall("{DAV:}propstat")
              if "200" in (ps.findtext("{DAV:}status") or "")]
        value = ok[0].findtext("{DAV:}prop/{http://owncloud.org/ns}downloadURL") if ok else None
        found[href.rstrip("/").rsplit("/", 1)[-1]] = value
    assert found[token] is None                                     # the folder: none
    url = found["in.txt"]
    assert url == f"{srv.url}/remote.php/dav/public-files/{token}/in.txt"
    status, body, _ = await call(srv, "GET", url)
    assert status == 200 and body == "public bytes"
    # a link with a password: a signed one (tests/test_public_link_signature.py)
    secret = await _link(srv, "/pub/in.txt", password="Secret-Pass-123!")
    async with aiohttp.ClientSession() as session, session.request(
            "PROPFIND", f"{srv.url}/remote.php/dav/public-files/{secret}",
            data=PROPFIND_DOWNLOAD, headers={"Depth": "0", **{
                "Authorization": basic("public", "Secret-Pass-123!")}}) as resp:
        assert resp.status == 207
        root = ET.fromstring(await resp.text())
    (propstat,) = root.findall("{DAV:}response/{DAV:}propstat")
    assert "200" in (propstat.findtext("{DAV:}status") or "")
    signed = propstat.findtext("{DAV:}prop/{http://owncloud.org/ns}downloadURL") or ""
    assert "?signature=" in signed and "&expiration=" in signed
    status, body, _ = await call(srv, "GET", signed)
    assert status == 200 and body == "public bytes"


# --- the cost of a check is bounded (no server: SignedUrls itself) ------------------------------

class _Users:
    async def get_by_name(self, name: str) -> Any:
        if name != "einstein":
            from ocis_server.domain.errors import NotFound
            raise NotFound("no such user")
        return type("U", (), {"id": EINSTEIN, "enabled": True})()


def _query(url: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


async def test_forgers_cannot_buy_pbkdf2_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failures lock (credential, address) before any more PBKDF2 runs; a verified URL is
    remembered, so loading it again computes nothing; too many checks at once answer 429."""
    import asyncio

    from ocis_server.auth import signedurl
    from ocis_server.domain.errors import TooManyRequests, Unauthenticated

    computed: list[str] = []
    real = signedurl.signature

    def counting(url: str, key: str) -> str:
        computed.append(url)
        return real(url, key)

    monkeypatch.setattr(signedurl, "signature", counting)
    key = signedurl.new_key()

    async def keys(user_id: str) -> str:
        return key

    checker = signedurl.SignedUrls(_Users(), keys)   # type: ignore[arg-type]
    server = type("S", (), {"url": "http://cloud.test"})()
    good = sign(server, FILE, key)
    path = urlsplit(good).path
    user = await checker.user("GET", "cloud.test", path, _query(good), "192.0.2.7")
    assert user.id == EINSTEIN
    before = len(computed)
    for _ in range(5):
        await checker.user("GET", "cloud.test", path, _query(good), "192.0.2.7")
    assert len(computed) == before                   # remembered: no PBKDF2 again

    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    for _ in range(checker.throttle.max_failures):
        with pytest.raises(Unauthenticated):
            await checker.user("GET", "cloud.test", path, _query(forged), "192.0.2.8")
    spent = len(computed)
    with pytest.raises(TooManyRequests):
        await checker.user("GET", "cloud.test", path, _query(forged), "192.0.2.8")
    assert len(computed) == spent                    # locked before any PBKDF2
    # another client is not locked out by the forger
    assert (await checker.user("GET", "cloud.test", path, _query(good), "192.0.2.9")).id == EINSTEIN

    # a flood: at most max_running compute, max_waiting queue, the rest get 429 at once
    flood = signedurl.SignedUrls(_Users(), keys, max_running=1, max_waiting=2)   # type: ignore[arg-type]
    forgeries = [_query(good[:-6] + f"{i:06d}") for i in range(8)]
    results = await asyncio.gather(
        *(flood.user("GET", "cloud.test", path, q, f"198.51.100.{i}") for i, q in enumerate(forgeries)),
        return_exceptions=True)
    refused = [r for r in results if isinstance(r, TooManyRequests)]
    assert len(refused) >= 5 and all(isinstance(r, (TooManyRequests, Unauthenticated))
                                     for r in results)
