"""ocdav in-process: every verb through aiohttp's test client over a real SqliteStorage."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from types import SimpleNamespace
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest
from kit import OC, D, Dav, headers, ocdav_root, propfind_body, props_of
from yarl import URL


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    root, users, storage = await ocdav_root(tmp_path)
    client = await aiohttp_client(root)
    return SimpleNamespace(client=client, users=users, storage=storage, dav=Dav(client))


# --- status, OPTIONS, auth -----------------------------------------------------------------

async def test_status_php(env):
    for path in ("/status.php", "/status"):
        resp = await env.client.get(path)
        assert resp.status == 200
        doc = await resp.json()
        assert doc["installed"] is True and doc["version"] == "10.11.0.0"
        assert doc["productname"] == "Infinite Scale" and doc["versionstring"] == "10.11.0"


async def test_options_without_auth(env):
    resp = await env.client.options("/remote.php/webdav/")
    assert resp.status == 204
    assert resp.headers["DAV"] == "1, 2" and resp.headers["MS-Author-Via"] == "DAV"
    assert "PROPFIND" in resp.headers["Allow"] and resp.headers["Tus-Resumable"] == "1.0.0"


async def test_unauthenticated_propfind_is_401(env):
    resp = await env.client.request("PROPFIND", "/remote.php/webdav/")
    assert resp.status == 401


# --- PUT / GET -------------------------------------------------------------------------------

async def test_put_get_roundtrip_with_headers(env):
    dav = env.dav
    body = b"hello world" * 100
    sha1 = hashlib.sha1(body).hexdigest()
    put = await dav.put("/a.txt", body, headers={"OC-Checksum": f"SHA1:{sha1}",
                                                 "X-OC-Mtime": "1700000000"})
    assert put.headers["X-OC-Mtime"] == "accepted"
    assert put.headers["ETag"].startswith('"') and put.headers["OC-FileId"]
    get = await dav.get("/a.txt")
    assert get.data == body
    assert get.headers["ETag"] == put.headers["ETag"] == get.headers["OC-ETag"]
    assert get.headers["OC-Checksum"] == f"SHA1:{sha1}"
    assert get.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert get.headers["Content-Type"] == "text/plain"
    assert "attachment" in get.headers["Content-Disposition"]
    await dav.put("/a.txt", b"new", status=204)
    head = await dav.request("HEAD", "/a.txt", 200)
    assert head.headers["Content-Length"] == "3"


async def test_get_range_and_conditionals(env):
    dav = env.dav
    put = await dav.put("/r.bin", bytes(range(256)))
    part = await dav.get("/r.bin", 206, headers={"Range": "bytes=10-19"})
    assert part.data == bytes(range(10, 20))
    assert part.headers["Content-Range"] == "bytes 10-19/256"
    await dav.get("/r.bin", 416, headers={"Range": "bytes=1000-"})
    await dav.get("/r.bin", 304, headers={"If-None-Match": put.headers["ETag"]})
    await dav.get("/r.bin", 412, headers={"If-Match": '"nope"'})
    ok = await dav.get("/r.bin", 200, headers={"If-Match": put.headers["ETag"]})
    assert len(ok.data) == 256


async def test_put_preconditions_and_errors(env):
    dav = env.dav
    first = await dav.put("/p.txt", b"1")
    await dav.put("/p.txt", b"2", status=412, headers={"If-Match": '"stale"'})
    await dav.put("/p.txt", b"2", status=204, headers={"If-Match": first.headers["ETag"]})
    await dav.put("/p.txt", b"3", status=412, headers={"If-None-Match": "*"})
    await dav.put("/p.txt", b"3", status=400, headers={"Content-Range": "bytes 0-0/1"})
    bad = await dav.put("/q.txt", b"abc", status=400, headers={"OC-Checksum": "SHA1:" + "0" * 40})
    assert b"Sabre\\DAV\\Exception\\BadRequest" in bad.data
    await dav.get("/q.txt", 404)
    # OC-Checksum in hex (reva) or base64: both verified; a wrong base64 digest is the same 400.
    b64 = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    await dav.put("/q64.txt", b"abc", status=201, headers={"OC-Checksum": f"MD5:{b64}"})
    await dav.put("/q64.txt", b"abd", status=400, headers={"OC-Checksum": f"MD5:{b64}"})
    assert (await dav.get("/q64.txt")).data == b"abc"
    await dav.put("/missing/x.txt", status=409)
    await dav.mkcol("/folder")
    await dav.put("/folder", status=409)
    await dav.get("/folder", 405)
    head = await dav.request("HEAD", "/folder", 200)
    assert head.headers["OC-FileId"] and head.headers["ETag"]


async def test_put_chunked_transfer_encoding(env):
    async def gen():
        for _ in range(10):
            yield b"0123456789" * 1000
    resp = await env.client.put("/remote.php/webdav/chunked.bin", data=gen(), headers=headers("alice"))
    assert resp.status == 201
    get = await env.dav.get("/chunked.bin")
    assert get.data == b"0123456789" * 10000


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/remote.php/webdav/a/../b", "/remote.php/webdav/%2e%2e/x", "/remote.php/webdav/a%2fb",
    "/remote.php/webdav/a//b", "/remote.php/webdav/a%00b", "/remote.php/webdav/a%0Ab",
    "/remote.php/webdav/a%5Cb", "/remote.php/webdav/%ff%fe", "/remote.php/webdav/" + "x" * 256,
])
async def test_bad_paths_are_400(env, path):
    base = str(env.client.make_url("/")).rstrip("/")
    for method in ("PUT", "PROPFIND", "GET", "MKCOL"):
        # encoded=True: the client must send the path as-is, not normalise `..` away.
        url = URL(base + path, encoded=True)
        resp = await env.client.session.request(method, url, headers=headers("alice"))
        body = await resp.read()
        assert resp.status == 400, (method, path, resp.status)
        assert b"<s:exception>Sabre\\DAV\\Exception\\BadRequest</s:exception>" in body


async def test_other_users_namespace_is_404(env):
    bob = env.users["bob"]
    await env.dav.request("PROPFIND", "/remote.php/dav/files/bob/", 404)
    await env.dav.request("PROPFIND", f"/dav/spaces/{bob.id}/", 404)
    alice = env.users["alice"]
    await env.dav.propfind(f"/remote.php/dav/files/{alice.id}/")
    await env.dav.propfind("/dav/files/alice/")


# --- PROPFIND --------------------------------------------------------------------------------

async def test_propfind_depth_and_properties(env):
    dav = env.dav
    await dav.mkcol("/docs")
    await dav.put("/docs/a b ä.txt", b"12345")
    resp = await dav.propfind("/docs/", propfind_body(
        "d:getetag", "d:getlastmodified", "d:getcontentlength", "d:resourcetype", "oc:id",
        "oc:permissions", "oc:checksums", "oc:size", "oc:owner-id", "oc:privatelink",
        "oc:spaceid", "oc:file-parent", "d:quota-available-bytes", "oc:nope"))
    assert resp.headers["Content-Type"] == "application/xml; charset=utf-8"
    responses = resp.xml.findall(f"{D}response")
    hrefs = [r.findtext(f"{D}href") for r in responses]
    assert hrefs == ["/remote.php/webdav/docs/", "/remote.php/webdav/docs/a%20b%20%C3%A4.txt"]
    props = props_of(resp.xml)
    folder, file = props[hrefs[0]], props[hrefs[1]]
    assert folder.find(f"{D}resourcetype/{D}collection") is not None
    assert folder.findtext(f"{OC}permissions") == "RDNVCKZP"
    assert folder.findtext(f"{OC}size") == "5"
    assert folder.findtext(f"{D}quota-available-bytes") == "-3"
    assert file.findtext(f"{OC}permissions") == "RDNVWZP"
    assert file.findtext(f"{D}getcontentlength") == "5"
    assert file.findtext(f"{OC}checksums/{OC}checksum").startswith("SHA1:")
    assert file.findtext(f"{OC}owner-id") == "alice"
    assert file.findtext(f"{OC}file-parent") == folder.findtext(f"{OC}id")
    assert file.findtext(f"{OC}privatelink") == f"http://localhost/f/{file.findtext(f'{OC}id')}"
    assert re.fullmatch(r'"[^"]+"', file.findtext(f"{D}getetag"))
    assert b"<oc:nope/>" in resp.data and b"404 Not Found" in resp.data
    minimal = await dav.propfind("/docs/", propfind_body("oc:nope", "d:getetag"),
                                 headers={"Prefer": "return=minimal"})
    assert b"404 Not Found" not in minimal.data and b"<oc:nope" not in minimal.data
    zero = await dav.propfind("/docs/", depth="0")
    assert len(zero.xml.findall(f"{D}response")) == 1


async def test_depth0_poll_answers_follow_every_change(env):
    """Repeated Depth 0 polls are answered from the last rendering only while nothing changed:
    an upload below, a dead property, a quota change, each shows in the very next poll."""
    dav, storage = env.dav, env.storage
    await dav.mkcol("/poll")
    body = propfind_body("d:getetag", "oc:size", "d:quota-available-bytes", "z:color")
    body = body.replace('xmlns:oc=', 'xmlns:z="urn:z" xmlns:oc=')

    async def poll() -> ET.Element:
        return props_of((await dav.propfind("/poll/", body, depth="0")).xml)[
            "/remote.php/webdav/poll/"]

    first, again = await poll(), await poll()
    assert first.findtext(f"{D}getetag") == again.findtext(f"{D}getetag")
    await dav.put("/poll/f.txt", b"12345")
    after_put = await poll()
    assert after_put.findtext(f"{D}getetag") != first.findtext(f"{D}getetag")
    assert after_put.findtext(f"{OC}size") == "5"
    await dav.proppatch("/poll/", '<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set>'
                        "<d:prop><z:color>red</z:color></d:prop></d:set></d:propertyupdate>")
    assert (await poll()).findtext("{urn:z}color") == "red"
    space = (await storage.list_spaces())[0]
    await storage.update_space(space.id, quota_total=1000)
    assert space.used == 5
    assert (await poll()).findtext(f"{D}quota-available-bytes") == "995"


async def test_propfind_depth_infinity_and_bad_xml(env):
    dav = env.dav
    resp = await dav.propfind("/", depth="infinity", status=400)
    assert b"Invalid Depth header value" in resp.data
    await dav.request("PROPFIND", "/", 400, body="<d:propfind xmlns:d='DAV:'><d:prop>",
                      headers={"Depth": "0"})
    await dav.request("PROPFIND", "/", 400, headers={"Depth": "0"}, body=(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><d:propfind xmlns:d="DAV:">'
        "<d:allprop/></d:propfind>"))
    deep = "<a>" * 100 + "</a>" * 100
    await dav.request("PROPFIND", "/", 400, body=deep, headers={"Depth": "0"})
    big = "<d:propfind xmlns:d='DAV:'>" + " " * (2 << 20) + "</d:propfind>"
    await dav.request("PROPFIND", "/", 413, body=big, headers={"Depth": "0"})
    # owncloudcmd 2.11 sends a stray text node after </d:prop>.
    stray = propfind_body("d:getetag").replace("</d:prop>", "</d:prop>M")
    await dav.propfind("/", stray, depth="0")


async def test_etag_propagates_to_root(env):
    dav = env.dav
    await dav.mkcol("/a")
    await dav.mkcol("/a/b")
    before = props_of((await dav.propfind("/", depth="0")).xml)["/remote.php/webdav/"]
    await dav.put("/a/b/c.txt", b"new")
    after = props_of((await dav.propfind("/", depth="0")).xml)["/remote.php/webdav/"]
    assert before.findtext(f"{D}getetag") != after.findtext(f"{D}getetag")
    assert after.findtext(f"{OC}size") == "3"


async def test_spaces_url_and_hrefs(env):
    dav = env.dav
    await dav.put("/f.txt", b"x")
    root = props_of((await dav.propfind("/", propfind_body("oc:spaceid"), depth="0")).xml)
    space_id = root["/remote.php/webdav/"].findtext(f"{OC}spaceid")
    for prefix in (f"/remote.php/dav/spaces/{space_id}", "/dav/spaces/"
                   + space_id.replace("$", "%24")):
        resp = await dav.propfind(prefix + "/")
        hrefs = [r.findtext(f"{D}href") for r in resp.xml.findall(f"{D}response")]
        assert [unquote(h) for h in hrefs] == [unquote(prefix) + "/", unquote(prefix) + "/f.txt"]
        assert all(unquote(h).startswith(unquote(prefix)) for h in hrefs)
    await dav.mkcol("/sub")
    await dav.put("/sub/g.txt")
    sub = props_of((await dav.propfind("/sub", propfind_body("oc:id"), depth="0")).xml)
    sub_id = sub["/remote.php/webdav/sub/"].findtext(f"{OC}id")
    resp = await dav.get(f"/dav/spaces/{sub_id}/g.txt")
    assert resp.data == b"x"
    # A file's own resource id addresses the file (propfindByFileId).
    file_id = resp.headers["OC-FileId"]
    by_id = await dav.propfind(f"/dav/spaces/{file_id}", propfind_body("oc:name"), depth="0")
    assert [r.findtext(f"{OC}name") for r in props_of(by_id.xml).values()] == ["g.txt"]
    await Dav(env.client, "bob").request("PROPFIND", f"/dav/spaces/{file_id}", 404)
    await dav.request("PROPFIND", "/dav/spaces/other$nothing/", 404)


async def test_allprop_and_propname(env):
    dav = env.dav
    await dav.put("/x.txt", b"x")
    resp = await dav.propfind("/x.txt", depth="0")
    prop = props_of(resp.xml)["/remote.php/webdav/x.txt"]
    assert prop.findtext(f"{OC}favorite") == "0" and prop.find(f"{D}supportedlock") is not None
    names = await dav.propfind("/x.txt", "<d:propfind xmlns:d='DAV:'><d:propname/></d:propfind>",
                               depth="0")
    prop = props_of(names.xml)["/remote.php/webdav/x.txt"]
    assert prop.find(f"{D}getetag") is not None and prop.findtext(f"{D}getetag") in ("", None)


# --- PROPPATCH -------------------------------------------------------------------------------

async def test_proppatch_dead_props_and_favorite(env):
    dav = env.dav
    await dav.put("/p.txt")
    body = ('<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z" xmlns:oc="http://owncloud.org/ns">'
            "<d:set><d:prop><z:color>blue \U0001F600</z:color><empty xmlns=''>v</empty>"
            "<oc:favorite>1</oc:favorite></d:prop></d:set></d:propertyupdate>")
    resp = await dav.proppatch("/p.txt", body)
    assert resp.data.count(b"200 OK") == 1
    got = await dav.propfind("/p.txt", '<d:propfind xmlns:d="DAV:" xmlns:z="urn:z" '
                             'xmlns:oc="http://owncloud.org/ns"><d:prop><z:color/><empty xmlns=""/>'
                             "<oc:favorite/></d:prop></d:propfind>", depth="0")
    prop = props_of(got.xml)["/remote.php/webdav/p.txt"]
    assert prop.findtext("{urn:z}color") == "blue \U0001F600"
    assert prop.findtext("empty") == "v" and prop.findtext(f"{OC}favorite") == "1"
    protected = ('<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop>'
                 "<d:getetag>x</d:getetag><z:color>red</z:color></d:prop></d:set>"
                 "</d:propertyupdate>")
    resp = await dav.proppatch("/p.txt", protected)
    assert b"403 Forbidden" in resp.data and b"424 Failed Dependency" in resp.data
    got = await dav.propfind("/p.txt", '<d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop>'
                             "<z:color/></d:prop></d:propfind>", depth="0")
    assert props_of(got.xml)["/remote.php/webdav/p.txt"].findtext("{urn:z}color").startswith("blue")
    remove = ('<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:remove><d:prop><z:color/>'
              "</d:prop></d:remove></d:propertyupdate>")
    await dav.proppatch("/p.txt", remove)
    got = await dav.propfind("/p.txt", '<d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop>'
                             "<z:color/></d:prop></d:propfind>", depth="0")
    assert b"404 Not Found" in got.data


# --- MKCOL / DELETE / COPY / MOVE ------------------------------------------------------------

async def test_mkcol_and_delete(env):
    dav = env.dav
    resp = await dav.mkcol("/c")
    assert resp.headers["OC-FileId"]
    await dav.mkcol("/c", status=405)
    await dav.mkcol("/x/y", status=409)
    await dav.mkcol("/d", status=415, body=b"<x/>")
    await dav.put("/c/f.txt")
    await dav.delete("/c/")
    await dav.delete("/c", status=404)
    await dav.delete("/", status=403)


async def test_copy_move(env):
    dav = env.dav
    await dav.mkcol("/src")
    put = await dav.put("/src/f.txt", b"data")
    file_id = put.headers["OC-FileId"]
    await dav.copy("/src", "/copy")
    await dav.copy("/src", "/copy", status=412, headers={"Overwrite": "F"})
    await dav.copy("/src", "/copy", status=204)
    await dav.copy("/src", "/shallow", headers={"Depth": "0"})
    await dav.get("/shallow/f.txt", 404)
    await dav.copy("/src", "/bad", status=400, headers={"Depth": "1"})
    await dav.copy("/src", "/nope/x", status=409)
    await dav.copy("/src", "/src", status=403)
    moved = await dav.move("/src/f.txt", "/moved.txt")
    assert moved.headers["OC-FileId"] == file_id and moved.headers["ETag"]
    # owncloudcmd: Destination is a bare percent-encoded path.
    await dav.request("MOVE", "/moved.txt", 201,
                      headers={"Destination": "/remote.php/webdav/m%C3%A4.txt"})
    props = props_of((await dav.propfind("/mä.txt", propfind_body("oc:id"), depth="0")).xml)
    assert next(iter(props.values())).findtext(f"{OC}id") == file_id
    await dav.request("MOVE", "/mä.txt", 502,
                      headers={"Destination": "http://elsewhere.example/remote.php/webdav/z"})
    # Another of our namespaces is fine.
    await dav.request("MOVE", "/mä.txt", 201,
                      headers={"Destination": "http://localhost/dav/files/alice/z.txt"})
    await dav.get("/z.txt")


# --- LOCK / UNLOCK ---------------------------------------------------------------------------

LOCKINFO = ('<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:{scope}/>'
            "</d:lockscope><d:locktype><d:write/></d:locktype><d:owner>me</d:owner></d:lockinfo>")


async def test_lock_lifecycle(env):
    dav = env.dav
    await dav.put("/l.txt", b"1")
    resp = await dav.request("LOCK", "/l.txt", 200, body=LOCKINFO.format(scope="exclusive"),
                             headers={"Timeout": "Second-600"})
    token = resp.headers["Lock-Token"][1:-1]
    assert token.startswith("opaquelocktoken:") and b"Second-" in resp.data
    await dav.put("/l.txt", b"2", status=423)
    await dav.delete("/l.txt", status=423)
    await dav.request("LOCK", "/l.txt", 423, body=LOCKINFO.format(scope="shared"))
    await dav.put("/l.txt", b"2", status=204, headers={"If": f"(<{token}>)"})
    await dav.put("/l.txt", b"3", status=412, headers={"If": f'(<{token}> ["bad"])'})
    await dav.put("/l.txt", b"3", status=423, headers={"If": f"(<{token}x>) (Not <DAV:no-lock>)"})
    # Bob cannot use alice's token.
    bob = Dav(env.client, "bob", root=f"/dav/spaces/{env.users['alice'].id}")
    found = await dav.propfind("/l.txt", propfind_body("d:lockdiscovery"), depth="0")
    assert token.encode() in found.data
    refreshed = await dav.request("LOCK", "/l.txt", 200, headers={"If": f"(<{token}>)"})
    assert token.encode() in refreshed.data
    await dav.request("UNLOCK", "/l.txt", 409, headers={"Lock-Token": "<opaquelocktoken:nope>"})
    await dav.request("UNLOCK", "/l.txt", 204, headers={"Lock-Token": f"<{token}>"})
    await dav.put("/l.txt", b"4", status=204)
    # A deleted resource takes its locks with it.
    resp = await dav.request("LOCK", "/l.txt", 200, body=LOCKINFO.format(scope="exclusive"))
    await dav.delete("/l.txt", headers={"If": f"({resp.headers['Lock-Token']})"})
    await dav.put("/l.txt", b"5", status=201)
    await bob.request("PROPFIND", "/", 404)


async def test_lock_unmapped_and_collection(env):
    dav = env.dav
    resp = await dav.request("LOCK", "/new.txt", 201, body=LOCKINFO.format(scope="exclusive"))
    token = resp.headers["Lock-Token"][1:-1]
    assert (await dav.get("/new.txt")).data == b""
    await dav.request("UNLOCK", "/new.txt", 204, headers={"Lock-Token": f"<{token}>"})
    await dav.mkcol("/coll")
    resp = await dav.request("LOCK", "/coll", 200, body=LOCKINFO.format(scope="shared"))
    token = resp.headers["Lock-Token"][1:-1]
    await dav.request("LOCK", "/coll", 200, body=LOCKINFO.format(scope="shared"))
    await dav.put("/coll/m.txt", status=423)
    await dav.put("/coll/m.txt", status=201, headers={"If": f"(<{token}>)"})
    refreshed = await dav.request("LOCK", "/coll/m.txt", 200, headers={"If": f"(<{token}>)"})
    assert token.encode() in refreshed.data


# --- shared project space: roles, foreign locks ------------------------------------------------

async def project_space(env, bob_role: str) -> str:
    alice, bob = env.users["alice"], env.users["bob"]
    space = await env.storage.create_space(space_type="project", name="Proj", owner_id=alice.id,
                                           alias="project/proj")
    await env.storage.set_member(space.id, alice.id, "manager")
    await env.storage.set_member(space.id, bob.id, bob_role)
    return f"/remote.php/dav/spaces/{space.space_id}"


async def test_foreign_lock_token_is_not_accepted(env):
    root = await project_space(env, "editor")
    alice, bob = Dav(env.client, "alice", root), Dav(env.client, "bob", root)
    await alice.put("/shared.txt", b"a")
    resp = await alice.request("LOCK", "/shared.txt", 200, body=LOCKINFO.format(scope="exclusive"))
    token = resp.headers["Lock-Token"]
    # Bob knows the token but does not hold the lock: still locked for him.
    await bob.put("/shared.txt", b"b", status=423, headers={"If": f"({token})"})
    await bob.request("UNLOCK", "/shared.txt", 403, headers={"Lock-Token": token})
    await alice.put("/shared.txt", b"c", status=204, headers={"If": f"({token})"})
    props = props_of((await bob.propfind("/shared.txt", propfind_body("oc:permissions"),
                                         depth="0")).xml)
    assert next(iter(props.values())).findtext(f"{OC}permissions") == "DNVW"


async def test_viewer_cannot_write(env):
    root = await project_space(env, "viewer")
    alice, bob = Dav(env.client, "alice", root), Dav(env.client, "bob", root)
    await alice.put("/r.txt", b"a")
    assert (await bob.get("/r.txt")).data == b"a"
    await bob.put("/r.txt", b"b", status=403)
    await bob.delete("/r.txt", status=403)
    await bob.mkcol("/new", status=403)
    await bob.move("/r.txt", "/s.txt", status=403)
    await bob.request("LOCK", "/r.txt", 403, body=LOCKINFO.format(scope="exclusive"))
    props = props_of((await bob.propfind("/r.txt", propfind_body("oc:permissions"),
                                         depth="0")).xml)
    assert next(iter(props.values())).findtext(f"{OC}permissions") in ("", None)


async def test_unknown_method_and_unknown_namespace(env):
    await env.dav.request("SEARCH", "/", 405)
    await env.dav.request("PROPFIND", "/remote.php/nothing/", 404)
    await env.dav.request("PROPFIND", "/dav/files/", 404)


async def test_propfind_large_folder_lists_every_child(env):
    dav = env.dav
    await dav.mkcol("/many")
    await asyncio.gather(*(dav.put(f"/many/f{i:04d}.txt", b"x") for i in range(300)))
    resp = await dav.propfind("/many/", propfind_body("d:getetag", "oc:favorite", "oc:dDC"))
    hrefs = [r.findtext(f"{D}href") for r in resp.xml.findall(f"{D}response")]
    assert len(hrefs) == 301 and hrefs[1] == "/remote.php/webdav/many/f0000.txt"
    assert resp.data.count(b"<oc:favorite>0</oc:favorite>") == 301


async def test_depth_infinity_when_configured(aiohttp_client, tmp_path):
    root, _users, _storage = await ocdav_root(
        tmp_path, ocis_url="http://localhost", ocdav_allow_propfind_depth_infinity=True)
    dav = Dav(await aiohttp_client(root))
    await dav.mkcol("/a")
    await dav.mkcol("/a/b")
    await dav.put("/a/b/c d.txt")
    resp = await dav.propfind("/", propfind_body("d:getetag"), depth="infinity")
    hrefs = [r.findtext(f"{D}href") for r in resp.xml.findall(f"{D}response")]
    assert hrefs == ["/remote.php/webdav/", "/remote.php/webdav/a/", "/remote.php/webdav/a/b/",
                     "/remote.php/webdav/a/b/c%20d.txt"]


async def test_proppatch_xml_values_round_trip_well_formed(env):
    dav = env.dav
    await dav.put("/v.txt")
    body = ('<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop><z:v>'
            '<z:a xml:lang="en" z:b="1" c="&amp;2">t<q xmlns="urn:other"/></z:a>tail &lt;'
            "</z:v></d:prop></d:set></d:propertyupdate>")
    await dav.proppatch("/v.txt", body)
    got = await dav.propfind("/v.txt", depth="0")    # allprop carries dead properties too
    value = props_of(got.xml)["/remote.php/webdav/v.txt"].find("{urn:z}v")
    child = value.find("{urn:z}a")
    assert child.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert child.get("{urn:z}b") == "1" and child.get("c") == "&2"
    assert child.find("{urn:other}q") is not None and value.find("{urn:z}a").tail == "tail <"
