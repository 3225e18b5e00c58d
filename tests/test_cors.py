"""CORS as oCIS answers it (OCIS_CORS_ALLOW_*): preflights answered before authentication, the
`Access-Control-*` headers on every answer to a listed origin (401s, errors and streamed downloads
too), nothing for an origin that is not listed. Over HTTP against the running server."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.cors import origin_of

ORIGIN = "https://aphno.badal"
EINSTEIN = {"Authorization": "Basic " + base64.b64encode(b"einstein:relativity").decode()}
WRONG = {"Authorization": "Basic " + base64.b64encode(b"einstein:invalid").decode()}


async def _call(url: str, method: str, path: str, headers: Mapping[str, str],
                data: bytes | None = None) -> tuple[int, Mapping[str, str], bytes]:
    async with aiohttp.ClientSession() as http, \
            http.request(method, url + path, headers=dict(headers), data=data) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


def _listed(headers: Mapping[str, str], origin: str = ORIGIN) -> None:
    assert headers["Access-Control-Allow-Origin"] == origin
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "OC-ETag", "OC-FileId", "OC-Checksum", "Location", "Content-Range",
            "Tus-Resumable", "Upload-Offset", "Lock-Token"} <= exposed
    assert "Depth" in headers["Access-Control-Allow-Headers"]
    assert "PROPFIND" in headers["Access-Control-Allow-Methods"]
    assert "Origin" in headers["Vary"]


def _none(headers: Mapping[str, str]) -> None:
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Headers",
                 "Access-Control-Allow-Methods", "Access-Control-Allow-Credentials"):
        assert name not in headers, name


async def test_preflight_is_answered_before_authentication(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, OCIS_CORS_ALLOW_ORIGINS=f"{ORIGIN}, https://*.example.org")
    async with embedded_server(config) as srv:
        for path, method, asked in (
                ("/remote.php/dav/files/einstein/", "PROPFIND", "authorization, depth, content-type"),
                ("/ocs/v2.php/apps/files_sharing/api/v1/shares", "POST", "Authorization, OCS-APIREQUEST"),
                ("/graph/v1.0/drives/x", "DELETE", "Authorization, Purge"),
                ("/remote.php/dav/spaces/x/", "POST", "Tus-Resumable, Upload-Length, Upload-Metadata")):
            status, headers, body = await _call(srv.url, "OPTIONS", path, {
                "Origin": ORIGIN, "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": asked})
            assert status == 204 and body == b"", (path, status)
            assert headers["Access-Control-Allow-Origin"] == ORIGIN, path
            assert headers["Access-Control-Allow-Methods"] == method
            assert headers["Access-Control-Allow-Headers"] == asked
            assert "Access-Control-Request-Headers" in headers["Vary"]
            assert "WWW-Authenticate" not in headers and "Access-Control-Allow-Credentials" not in headers
        wildcard = {"Origin": "https://web.example.org", "Access-Control-Request-Method": "GET"}
        status, headers, _ = await _call(srv.url, "OPTIONS", "/graph/v1.0/me", wildcard)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://web.example.org"
        for refused in ({"Origin": "https://mero.badal", "Access-Control-Request-Method": "GET"},
                        {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
                        {"Origin": ORIGIN, "Access-Control-Request-Method": "TRACE"},
                        {"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                         "Access-Control-Request-Headers": "X-Not-Allowed"}):
            status, headers, _ = await _call(srv.url, "OPTIONS", "/graph/v1.0/me", refused)
            assert status == 204, refused
            _none(headers)
        # an OPTIONS that is no preflight is still WebDAV's capability discovery
        status, headers, _ = await _call(srv.url, "OPTIONS", "/remote.php/dav/files/einstein/",
                                         {"Origin": ORIGIN})
        assert "Tus-Version" in headers and "DAV" in headers
        _listed(headers)


async def test_every_answer_to_a_listed_origin_carries_the_headers(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, OCIS_CORS_ALLOW_ORIGINS=ORIGIN)
    async with embedded_server(config) as srv:
        listed = {"Origin": ORIGIN}
        for path in ("/ocs/v1.php/config", "/ocs/v2.php/config?format=json"):
            status, headers, _ = await _call(srv.url, "GET", path, listed)
            assert status == 200
            _listed(headers)
        shares = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
        status, headers, _ = await _call(srv.url, "GET", shares, {**listed, **EINSTEIN})
        assert status == 200
        _listed(headers)
        status, headers, _ = await _call(srv.url, "GET", shares, {**listed, **WRONG})
        assert status == 401
        _listed(headers)
        status, headers, _ = await _call(srv.url, "GET", "/graph/v1.0/me", listed)
        assert status == 401
        _listed(headers)
        status, headers, _ = await _call(srv.url, "GET", "/no/such/service", listed)
        assert status == 404
        _listed(headers)
        dav = "/remote.php/dav/files/einstein/cors.txt"
        status, headers, _ = await _call(srv.url, "PUT", dav, {**listed, **EINSTEIN}, b"x" * 70000)
        assert status in (201, 204)
        _listed(headers)
        status, headers, body = await _call(srv.url, "GET", dav, {**listed, **EINSTEIN})
        assert status == 200 and len(body) == 70000     # a streamed download
        _listed(headers)
        assert headers["OC-FileId"] and headers["ETag"]
        status, headers, _ = await _call(srv.url, "PROPFIND", dav, {**listed, **EINSTEIN, "Depth": "0"})
        assert status == 207
        _listed(headers)
        # an origin that is not listed gets none of it; a request without Origin neither
        for other in ({"Origin": "https://mero.badal"}, {}):
            for path in ("/ocs/v1.php/config", dav):
                status, headers, _ = await _call(srv.url, "GET", path, {**other, **EINSTEIN})
                assert status == 200
                _none(headers)
                assert "Access-Control-Expose-Headers" not in headers, path


async def test_defaults_allow_the_ocis_url_only(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    async with embedded_server(config) as srv:
        own = origin_of(srv.ctx.config.ocis_url)
        status, headers, _ = await _call(srv.url, "GET", "/ocs/v1.php/config", {"Origin": own})
        assert status == 200
        _listed(headers, own)
        assert "Access-Control-Allow-Credentials" not in headers     # oCIS: false unless set
        status, headers, _ = await _call(srv.url, "GET", "/ocs/v1.php/config", {"Origin": ORIGIN})
        _none(headers)


async def test_credentials_and_any_origin(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, OCIS_CORS_ALLOW_ORIGINS="*",
                              OCIS_CORS_ALLOW_CREDENTIALS="true", OCIS_CORS_ALLOW_METHODS="GET,POST")
    async with embedded_server(config) as srv:
        status, headers, _ = await _call(srv.url, "GET", "/graph/v1.0/me", {"Origin": ORIGIN, **EINSTEIN})
        assert status == 200
        # with credentials a browser refuses `*`: the origin is echoed
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        assert headers["Access-Control-Allow-Credentials"] == "true"
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "PROPFIND"}
        status, headers, _ = await _call(srv.url, "OPTIONS", "/remote.php/webdav/", preflight)
        assert status == 204
        _none(headers)                                              # PROPFIND not allowed here
