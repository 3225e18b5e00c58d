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
