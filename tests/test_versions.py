"""File versions: storage level (list, blob path, restore with propagation and quota) and WebDAV
in-process (`/remote.php/dav/meta/<fileid>/v`: PROPFIND, GET/HEAD, COPY restore)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kit import OC, D, Dav, ocdav_root, propfind_body, props_of

from ocis_server.domain.errors import NotFound
from ocis_server.storage.sqlite import SqliteStorage


async def _body(data: bytes):
    yield data


@pytest.fixture
async def store(tmp_path):
    storage = await SqliteStorage.open(tmp_path, "storage-1")
    space = await storage.create_space(space_type="personal", name="A", owner_id="u1",
                                       alias="personal/a", space_id="u1")
    yield SimpleNamespace(storage=storage, space=space.id)
    await storage.close()


async def test_versions_list_and_restore(store):
    st, space = store.storage, store.space
    await st.mkdir(space, ("d",))
    first = (await st.upload(space, ("d", "f"), _body(b"v1"), mtime=1_600_000_000)).node
    second = (await st.upload(space, ("d", "f"), _body(b"v2-longer"))).node
    assert second.id == first.id
    [v1] = await st.list_versions(first.id)
    assert (v1.size, v1.mtime, v1.etag) == (2, 1_600_000_000, first.etag)
    assert v1.checksums["SHA1"] == first.checksums["SHA1"]
    assert (await st.version_blob_path(first.id, v1.key)).read_bytes() == b"v1"
    root_before = await st.get_space(space)
    restored = await st.restore_version(first.id, v1.key)
    assert restored.etag not in (first.etag, second.etag)
    assert restored.size == 2 and restored.mtime == 1_600_000_000
    assert await st.read_small(restored) == b"v1"
    assert restored.checksums == first.checksums
    root_after = await st.get_space(space)
    assert root_after.used == 2 and root_after.etag != root_before.etag
    assert (await st.lookup(space, ("d",))).size == 2
    # The replaced content is the newest version now; the restored one is no longer a version.
    versions = await st.list_versions(first.id)
    assert [v.size for v in versions] == [9]
    assert (await st.version_blob_path(first.id, versions[0].key)).read_bytes() == b"v2-longer"
    with pytest.raises(NotFound):
        await st.restore_version(first.id, v1.key)
    for bad in ("abc", "-1", "99999", "１"):
        with pytest.raises(NotFound):
            await st.version_blob_path(first.id, bad)
    with pytest.raises(NotFound):
        await st.list_versions((await st.lookup(space, ("d",))).id)   # folders have none


async def test_versions_follow_the_file_through_trash(store):
    st, space = store.storage, store.space
    node = (await st.upload(space, ("f",), _body(b"a"))).node
    await st.upload(space, ("f",), _body(b"bb"))
    await st.delete(space, ("f",))
    with pytest.raises(NotFound):
        await st.list_versions(node.id)
    [item] = await st.list_trash(space)
    await st.restore_trash(space, item.key, overwrite=False)
    assert [v.size for v in await st.list_versions(node.id)] == [1]


# --- WebDAV ---------------------------------------------------------------------------------------

@pytest.fixture
async def env(aiohttp_client, tmp_path):
    root, users, storage = await ocdav_root(tmp_path)
    client = await aiohttp_client(root)
    return SimpleNamespace(client=client, users=users, storage=storage, dav=Dav(client))


async def test_webdav_versions(env):
    dav = env.dav
    first = await dav.put("/doc.txt", b"first")
    await dav.put("/doc.txt", b"second!", status=204)
    file_id = first.headers["OC-FileId"]
    base = f"/remote.php/dav/meta/{file_id}/v"
    listing = await dav.propfind(base)
    hrefs = [r.findtext(f"{D}href") for r in listing.xml.findall(f"{D}response")]
    assert hrefs[0] == base + "/" and len(hrefs) == 2
    version_href = hrefs[1]
    assert version_href.startswith(base + "/")
    prop = props_of(listing.xml)[version_href]
    assert prop.findtext(f"{D}getcontentlength") == "5"
    assert prop.findtext(f"{D}getetag") == first.headers["ETag"]
    assert prop.findtext(f"{D}getlastmodified").endswith("GMT")
    assert prop.findtext(f"{OC}checksums/{OC}checksum").startswith("SHA1:")
    got = await dav.get(version_href)
    assert got.data == b"first" and got.headers["ETag"] == first.headers["ETag"]
    head = await dav.request("HEAD", version_href, 200)
    assert head.headers["Content-Length"] == "5"
    only = await dav.propfind(base, propfind_body("d:getcontentlength", "oc:fileid"))
    assert "404 Not Found" in only.data.decode()
    await dav.request("COPY", version_href, 204,
                      headers={"Destination": "/remote.php/webdav/ignored.txt"})
    assert (await dav.get("/doc.txt")).data == b"first"
    await dav.get("/ignored.txt", status=404)
    after = await dav.propfind(base)
    sizes = [p.findtext(f"{D}getcontentlength") for h, p in props_of(after.xml).items()
             if h != base + "/"]
    assert sizes == ["7"]
    await dav.get(version_href, status=404)                 # consumed by the restore
    await dav.get(f"{base}/not-a-key", status=404)


async def test_webdav_versions_authorization(env):
    dav = env.dav
    put = await dav.put("/secret.txt", b"a")
    await dav.put("/secret.txt", b"b", status=204)
    base = f"/remote.php/dav/meta/{put.headers['OC-FileId']}/v"
    bob = Dav(env.client, user="bob")
    await bob.propfind(base, status=404)
    key = (await env.storage.list_versions(put.headers["OC-FileId"].rsplit("!", 1)[1]))[0].key
    await bob.get(f"{base}/{key}", status=404)
    await bob.request("COPY", f"{base}/{key}", 404)
    await dav.propfind("/remote.php/dav/meta/not-an-id/v", status=404)
    await dav.propfind(f"/remote.php/dav/meta/{put.headers['OC-FileId']}/x", status=404)
    resp = await env.client.request("PROPFIND", base)
    assert resp.status == 401


async def test_webdav_version_restore_respects_locks(env):
    dav = env.dav
    put = await dav.put("/locked.txt", b"one")
    await dav.put("/locked.txt", b"two", status=204)
    lock = await dav.request("LOCK", "/locked.txt", 200, body=(
        '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
        "</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>"))
    token = lock.headers["Lock-Token"]
    node_id = put.headers["OC-FileId"].rsplit("!", 1)[1]
    [version] = await env.storage.list_versions(node_id)
    url = f"/remote.php/dav/meta/{put.headers['OC-FileId']}/v/{version.key}"
    await dav.request("COPY", url, 423)
    assert (await dav.get("/locked.txt")).data == b"two"
    await dav.request("COPY", url, 204, headers={"If": f"({token})"})
    assert (await dav.get("/locked.txt")).data == b"one"
