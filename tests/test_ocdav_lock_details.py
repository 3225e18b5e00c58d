"""Lock details as oCIS shows them: `oc:ownername` (the locking user's display name) in
`d:lockdiscovery` of the LOCK answer and of PROPFIND; UNLOCK takes the lock token as a Coded-URL or,
as reva does, bare (the `webdav` npm package sends it so). Over HTTP against the running server."""

from __future__ import annotations

import base64
from pathlib import Path
from xml.etree import ElementTree

import aiohttp

from ocis_server.runtime import embedded_server, make_test_config

EINSTEIN = {"Authorization": "Basic " + base64.b64encode(b"einstein:relativity").decode()}
LOCKINFO = (b'<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
            b'</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>')
OWNERNAME = ".//{DAV:}activelock/{http://owncloud.org/ns}ownername"


async def test_ownername_and_unlock_with_a_bare_token(tmp_path: Path) -> None:
    async with embedded_server(make_test_config(tmp_path)) as srv, aiohttp.ClientSession() as http:
        url = srv.url + "/remote.php/dav/files/einstein/locked.txt"
        async with http.put(url, data=b"x", headers=EINSTEIN) as resp:
            assert resp.status == 201
        async with http.request("LOCK", url, data=LOCKINFO, headers=EINSTEIN) as resp:
            assert resp.status == 200
            token = resp.headers["Lock-Token"]
            answer = ElementTree.fromstring(await resp.read())
        assert answer.findtext(OWNERNAME) == "Albert Einstein"
        async with http.request("PROPFIND", url, headers={**EINSTEIN, "Depth": "0"}) as resp:
            assert resp.status == 207
            listing = ElementTree.fromstring(await resp.read())
        assert listing.findtext(OWNERNAME) == "Albert Einstein"
        for bad, status in (("<>", 400), ("", 400), ("not-a-token", 409),
                            ("opaquelocktoken:00000000-0000-0000-0000-000000000000", 409)):
            async with http.request("UNLOCK", url, headers={**EINSTEIN, "Lock-Token": bad}) as resp:
                assert resp.status == status, bad
        async with http.put(url, data=b"y", headers=EINSTEIN) as resp:
            assert resp.status == 423                      # still locked
        bare = token.strip("<>")
        async with http.request("UNLOCK", url, headers={**EINSTEIN, "Lock-Token": bare}) as resp:
            assert resp.status == 204
        async with http.put(url, data=b"y", headers=EINSTEIN) as resp:
            assert resp.status == 204                      # the lock is gone
        async with http.request("PROPFIND", url, headers={**EINSTEIN, "Depth": "0"}) as resp:
            assert ElementTree.fromstring(await resp.read()).find(OWNERNAME) is None


async def test_lock_timeouts_as_reva(tmp_path: Path) -> None:
    """No Timeout header or `Infinite`: the lock never expires; `Second-N` up to 2**32-1 is kept
    as asked (no cap); anything else is 400."""
    async with embedded_server(make_test_config(tmp_path)) as srv, aiohttp.ClientSession() as http:
        base = srv.url + "/remote.php/dav/files/einstein/"
        timeout_path = ".//{DAV:}activelock/{DAV:}timeout"
        for name, header, expected in (("none.txt", None, "Infinite"),
                                       ("inf.txt", "Infinite, Second-60", "Infinite"),
                                       ("long.txt", "Second-5000000", "Second-5000000"),
                                       ("max.txt", f"Second-{2**32 - 1}", f"Second-{2**32 - 1}")):
            headers = dict(EINSTEIN) if header is None else {**EINSTEIN, "Timeout": header}
            async with http.request("LOCK", base + name, data=LOCKINFO, headers=headers) as resp:
                assert resp.status == 201, name
                got = ElementTree.fromstring(await resp.read()).findtext(timeout_path)
            async with http.request("PROPFIND", base + name, headers={**EINSTEIN, "Depth": "0"}) as resp:
                listed = ElementTree.fromstring(await resp.read()).findtext(timeout_path)
            for value in (got, listed):      # the time left: a second may have passed
                assert value is not None, name
                assert value == expected or (expected.startswith("Second-") and value.startswith(
                    "Second-") and 0 <= int(expected[7:]) - int(value[7:]) <= 1), (name, value)
        for bad in ("Second-", "Second-x", f"Second-{2**32}", "Minute-5", "Second-٣"):
            async with http.request("LOCK", base + "bad.txt", data=LOCKINFO,
                                    headers={**EINSTEIN, "Timeout": bad}) as resp:
                assert resp.status == 400, bad


async def test_propfind_depth_infinity_setting(tmp_path: Path) -> None:
    for allowed, status in ((False, 400), (True, 207)):
        config = make_test_config(tmp_path / str(allowed),
                                  OCDAV_ALLOW_PROPFIND_DEPTH_INFINITY=str(allowed).lower())
        async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
            base = srv.url + "/remote.php/dav/files/einstein/"
            for folder in ("deep/", "deep/er/"):
                async with http.request("MKCOL", base + folder, headers=EINSTEIN) as resp:
                    assert resp.status == 201
            async with http.put(base + "deep/er/f.txt", data=b"x", headers=EINSTEIN) as resp:
                assert resp.status == 201
            async with http.request("PROPFIND", base + "deep/",
                                    headers={**EINSTEIN, "Depth": "infinity"}) as resp:
                assert resp.status == status
                body = await resp.read()
            if allowed:
                hrefs = [e.text for e in ElementTree.fromstring(body).iter("{DAV:}href")]
                assert hrefs[-1] == "/remote.php/dav/files/einstein/deep/er/f.txt"
            else:
                assert b"Invalid Depth header value" in body
