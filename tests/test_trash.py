"""Trash bin: storage level (trash, restore, purge, empty; ids, dead props, propagation, blobs)
and WebDAV in-process (spaces and legacy trash-bin URLs, reva's statuses and properties)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest
from kit import OC, D, Dav, ocdav_root, propfind_body, props_of
from test_ocdav import project_space

from ocis_server.domain.errors import Conflict, NotFound, PreconditionFailed
from ocis_server.storage.sqlite import SqliteStorage


async def _body(data: bytes):
    yield data


@pytest.fixture
async def store(tmp_path):
    storage = await SqliteStorage.open(tmp_path, "storage-1")
    space = await storage.create_space(space_type="personal", name="A", owner_id="u1",
                                       alias="personal/a", space_id="u1")
    yield SimpleNamespace(storage=storage, space=space.id, root=tmp_path)
    await storage.close()


async def put(s, path: tuple[str, ...], data: bytes):
    return (await s.storage.upload(s.space, path, _body(data))).node


def blob_count(root) -> int:
    return sum(1 for p in (root / "blobs").rglob("*") if p.is_file())


async def blobs_settle(root, expected: int) -> int:
    """Blob removal runs in the I/O pool after the commit: wait (briefly) for it."""
    for _ in range(100):
        if blob_count(root) == expected:
            break
        await asyncio.sleep(0.01)
    return blob_count(root)


# --- storage ------------------------------------------------------------------------------------

async def test_delete_trashes_and_restore_keeps_id_props_versions(store):
    s, st = store, store.storage
    await st.mkdir(s.space, ("Docs",))
    await st.mkdir(s.space, ("Docs", "sub"))
    f = await put(s, ("Docs", "sub", "a.txt"), b"one")
    await put(s, ("Docs", "sub", "a.txt"), b"two!")
    await st.patch_props(f.id, {"{urn:x}color": "blue"}, [])
    folder = await st.lookup(s.space, ("Docs",))
    before = await st.get_space(s.space)
    await st.delete(s.space, ("Docs",))
    after = await st.get_space(s.space)
    assert after.used == 0 and after.etag != before.etag
    with pytest.raises(NotFound):
        await st.lookup(s.space, ("Docs",))
    with pytest.raises(NotFound):
        await st.get_node(f.id)          # trashed nodes are invisible by id too
    assert await st.children(await st.lookup(s.space, ())) == []
    [item] = await st.list_trash(s.space)
    assert (item.key, item.name, item.original_path, item.is_dir, item.size) == (
        folder.id, "Docs", ("Docs",), True, 4)
    assert abs(item.deleted - time.time()) < 60
    blobs = blob_count(s.root)
    result = await st.restore_trash(s.space, item.key, overwrite=False)
    assert result.created and result.node.id == folder.id
    restored = await st.lookup(s.space, ("Docs", "sub", "a.txt"))
    assert restored.id == f.id and await st.read_small(restored) == b"two!"
    assert (await st.get_props(f.id)) == {"{urn:x}color": "blue"}
    assert [v.size for v in await st.list_versions(f.id)] == [3]
    space = await st.get_space(s.space)
    assert space.used == 4 and space.etag != after.etag
    assert await st.list_trash(s.space) == [] and blob_count(s.root) == blobs


async def test_restore_rules(store):
    s, st = store, store.storage
    await st.mkdir(s.space, ("d",))
    f = await put(s, ("d", "f.txt"), b"abc")
    await st.delete(s.space, ("d", "f.txt"))
    await st.delete(s.space, ("d",))
    items = {i.name: i for i in await st.list_trash(s.space)}
    with pytest.raises(Conflict):           # the original parent is gone (in the trash itself)
        await st.restore_trash(s.space, items["f.txt"].key, overwrite=False)
    ok = await st.restore_trash(s.space, items["f.txt"].key, dst_path=("elsewhere.txt",),
                                overwrite=False)
    assert ok.created and ok.node.id == f.id and ok.node.name == "elsewhere.txt"
    await put(s, ("x.txt",), b"new")
    await st.delete(s.space, ("elsewhere.txt",))
    key = (await st.list_trash(s.space))[0].key
    with pytest.raises(PreconditionFailed):
        await st.restore_trash(s.space, key, dst_path=("x.txt",), overwrite=False)
    replaced = await st.restore_trash(s.space, key, dst_path=("x.txt",), overwrite=True)
    assert not replaced.created and await st.read_small(replaced.node) == b"abc"
    # The replaced file went to the trash, not away.
    assert "x.txt" in {i.name for i in await st.list_trash(s.space)}
    with pytest.raises(NotFound):
        await st.restore_trash(s.space, "no-such-key", overwrite=False)
    with pytest.raises(NotFound):
        await st.list_trash("no-such-space")


async def test_restore_respects_quota(store):
    s, st = store, store.storage
    await put(s, ("big",), b"x" * 100)
    await st.delete(s.space, ("big",))
    await st.update_space(s.space, quota_total=150)
    await put(s, ("other",), b"y" * 100)
    from ocis_server.domain.errors import QuotaExceeded
    with pytest.raises(QuotaExceeded):
        await st.restore_trash(s.space, (await st.list_trash(s.space))[0].key, overwrite=False)


async def test_purge_and_empty_remove_blobs_and_versions(store):
    s, st = store, store.storage
    await put(s, ("a",), b"1")
    await put(s, ("a",), b"22")           # one version
    await put(s, ("b",), b"3")
    await st.delete(s.space, ("a",))
    await st.delete(s.space, ("b",))
    assert blob_count(s.root) == 3         # blobs stay while in the trash
    keys = {i.name: i.key for i in await st.list_trash(s.space)}
    await st.purge_trash(s.space, keys["a"])
    assert await blobs_settle(s.root, 1) == 1
    with pytest.raises(NotFound):
        await st.purge_trash(s.space, keys["a"])
    assert await st.empty_trash(s.space) == 1
    assert await blobs_settle(s.root, 0) == 0 and await st.list_trash(s.space) == []


async def test_space_delete_purges_its_trash(store):
    s, st = store, store.storage
    await put(s, ("a",), b"1")
    await st.delete(s.space, ("a",))
    await st.delete_space(s.space)
    assert await blobs_settle(s.root, 0) == 0


async def test_ten_thousand_items_list_fast(store):
    s, st = store, store.storage
    # Trash rows written directly: the point is the listing, not 10k writer round trips.
    def fill(tx):
        tx.conn.executemany(
            "INSERT INTO trash(key, space_id, name, location, is_dir, size, deleted)"
            " VALUES (?,?,?,?,?,?,?)",
            [(f"k{i:05d}", s.space, f"f{i}", f"dir/f{i}", 0, i, 1_700_000_000 + i)
             for i in range(10_000)])
    await st._write(fill)
    start = time.perf_counter()
    items = await st.list_trash(s.space)
    assert len(items) == 10_000 and items[0].key == "k09999"
    assert time.perf_counter() - start < 1.0


def test_capabilities_advertise_undelete_and_versioning():
    from ocis_server.services.frontend.capabilities import capabilities
    from ocis_server.services.frontend.config import FrontendConfig

    files = capabilities(FrontendConfig(public_url="http://localhost"))["files"]
    assert files["undelete"] is True and files["versioning"] is True


# --- WebDAV ---------------------------------------------------------------------------------------

@pytest.fixture
async def env(aiohttp_client, tmp_path):
    root, users, storage = await ocdav_root(tmp_path)
    client = await aiohttp_client(root)
    return SimpleNamespace(client=client, users=users, storage=storage, dav=Dav(client))


def trash_url(env, user: str = "alice") -> str:
    space = env.users[user].id
    return f"/remote.php/dav/spaces/trash-bin/1284d238-aa92-42ce-bdc4-0b0000009157${space}"


async def test_webdav_list_restore_purge(env):
    dav = env.dav
    await dav.mkcol("/Folder")
    put = await dav.put("/Folder/a.txt", b"hello")
    file_id = put.headers["OC-FileId"]
    await dav.proppatch("/Folder", '<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set>'
                        "<d:prop><x:tag>kept</x:tag></d:prop></d:set></d:propertyupdate>")
    await dav.delete("/Folder")
    await dav.get("/Folder/a.txt", status=404)
    base = trash_url(env)
    listing = await dav.propfind(base + "/")
    responses = listing.xml.findall(f"{D}response")
    assert responses[0].findtext(f"{D}href") == base + "/"
    props = props_of(listing.xml)
    [(href, prop)] = [(h, p) for h, p in props.items() if h != base + "/"]
    key = href[len(base) + 1:].rstrip("/")
    assert href.endswith("/")     # a folder
    assert prop.findtext(f"{OC}trashbin-original-filename") == "Folder"
    assert prop.findtext(f"{OC}trashbin-original-location") == "Folder"
    assert int(prop.findtext(f"{OC}trashbin-delete-timestamp")) > 1_700_000_000
    assert prop.findtext(f"{OC}trashbin-delete-datetime").endswith("+0000")
    assert prop.find(f"{D}resourcetype/{D}collection") is not None
    assert prop.findtext(f"{OC}size") == "5"
    assert prop.findtext(f"{OC}spaceid") == env.users["alice"].id
    # Restore: 201 to a free place, with the old ids; the dead property came back too.
    restored = await dav.move(base + "/" + key, "/Folder", status=201)
    assert restored.headers["OC-FileId"].endswith(key)
    again = await dav.propfind("/Folder/a.txt", propfind_body("oc:fileid"), depth="0")
    assert next(iter(props_of(again.xml).values())).findtext(f"{OC}fileid") == file_id
    tag = await dav.propfind("/Folder", '<d:propfind xmlns:d="DAV:" xmlns:x="urn:x"><d:prop>'
                             "<x:tag/></d:prop></d:propfind>", depth="0")
    assert "kept" in tag.data.decode()
    # Purge one, unknown key (reva: 409), empty all.
    await dav.delete("/Folder/a.txt")
    listing = await dav.propfind(base, propfind_body("oc:trashbin-original-location",
                                                     "d:getcontentlength"))
    file_props = [p for h, p in props_of(listing.xml).items() if h != base + "/"]
    assert file_props[0].findtext(f"{OC}trashbin-original-location") == "Folder/a.txt"
    assert file_props[0].findtext(f"{D}getcontentlength") == "5"
    file_key = next(h for h in props_of(listing.xml) if h != base + "/").rsplit("/", 1)[1]
    await dav.delete(base + "/" + file_key, status=204)
    await dav.delete(base + "/" + file_key, status=409)
    await dav.put("/b.txt")
    await dav.delete("/b.txt")
    await dav.delete(base + "/", status=204)
    assert await env.storage.list_trash(env.users["alice"].id) == []


async def test_webdav_restore_statuses(env):
    dav = env.dav
    await dav.mkcol("/d")
    await dav.put("/d/f.txt", b"old")
    await dav.delete("/d/f.txt")
    base = trash_url(env)
    [item] = await env.storage.list_trash(env.users["alice"].id)
    url = f"{base}/{item.key}"
    await dav.put("/d/f.txt", b"new")
    await dav.move(url, "/d/f.txt", status=412, headers={"Overwrite": "F"})
    await dav.move(url, "/missing/f.txt", status=409)
    await dav.move(url, "/d/f.txt", status=204)
    assert (await dav.get("/d/f.txt")).data == b"old"
    await dav.move(f"{base}/not-a-key", "/d/g.txt", status=404)


async def test_legacy_trash_and_authorization(env):
    dav = env.dav
    await dav.put("/x.txt", b"x")
    await dav.delete("/x.txt")
    legacy = "/remote.php/dav/trash-bin/alice/"
    listing = await dav.propfind(legacy)
    hrefs = [h for h in props_of(listing.xml) if h != legacy]
    assert len(hrefs) == 1 and hrefs[0].startswith(legacy)
    key = hrefs[0][len(legacy):]
    bob = Dav(env.client, user="bob")
    await bob.propfind(legacy, status=404)                  # not his namespace
    await bob.propfind(trash_url(env), status=404)          # not his space
    await bob.request("DELETE", f"{trash_url(env)}/{key}", 404)
    await dav.move(legacy + key, "/remote.php/dav/files/alice/y.txt", status=201)
    assert (await dav.get("/y.txt")).data == b"x"
    await dav.request("PROPPATCH", legacy, 405)
    resp = await env.client.request("PROPFIND", legacy)
    assert resp.status == 401


async def test_trash_propfind_depth_zero_and_unknown_props(env):
    dav = env.dav
    await dav.put("/z.txt", b"zz")
    await dav.delete("/z.txt")
    base = trash_url(env)
    zero = await dav.propfind(base, depth="0")
    assert len(zero.xml.findall(f"{D}response")) == 1
    resp = await dav.propfind(base, propfind_body("oc:size", "d:getetag"))
    item = resp.xml.findall(f"{D}response")[1]
    statuses = [ps.findtext(f"{D}status") for ps in item.findall(f"{D}propstat")]
    assert "HTTP/1.1 404 Not Found" in statuses
    missing = [ps for ps in item.findall(f"{D}propstat") if "404" in ps.findtext(f"{D}status")]
    assert missing[0].find(f"{D}prop/{D}getetag") is not None
    ET.tostring(resp.xml)   # well-formed


async def test_overwritten_destination_goes_to_trash(store):
    """reva deletes an overwritten MOVE/COPY destination first; here that delete trashes too."""
    s, st = store, store.storage
    victim = await put(s, ("dst.txt",), b"precious")
    await put(s, ("src.txt",), b"new")
    await st.move(s.space, ("src.txt",), s.space, ("dst.txt",), overwrite=True)
    await put(s, ("other.txt",), b"x")
    await st.copy(s.space, ("other.txt",), s.space, ("dst.txt",), overwrite=True)
    items = await st.list_trash(s.space)
    assert [i.name for i in items] == ["dst.txt", "dst.txt"]
    assert victim.id in {i.key for i in items}
    await st.restore_trash(s.space, victim.id, dst_path=("back.txt",), overwrite=False)
    assert await st.read_small(await st.lookup(s.space, ("back.txt",))) == b"precious"
    assert (await st.get_space(s.space)).used == len(b"precious") + 1 + 1


async def test_webdav_lists_ten_thousand_items_fast(env):
    space = env.users["alice"].id

    def fill(tx):
        tx.conn.executemany(
            "INSERT INTO trash(key, space_id, name, location, is_dir, size, deleted)"
            " VALUES (?,?,?,?,?,?,?)",
            [(f"k{i:05d}", space, f"f{i} <&>", f"d/f{i} <&>", i % 2, i, 1_700_000_000 + i)
             for i in range(10_000)])
    await env.storage._write(fill)
    start = time.perf_counter()
    listing = await env.dav.propfind(trash_url(env))
    assert time.perf_counter() - start < 3.0
    responses = listing.xml.findall(f"{D}response")
    assert len(responses) == 10_001
    first = responses[1].find(f"{D}propstat/{D}prop")
    assert first.findtext(f"{OC}trashbin-original-filename") == "f9999 <&>"


async def test_trash_permissions_by_space_role(env):
    viewer_root = await project_space(env, "viewer")
    space_seg = viewer_root.rsplit("/", 1)[1]
    trash = f"/remote.php/dav/spaces/trash-bin/{space_seg}"
    await env.dav.put(viewer_root + "/f.txt", b"f")
    await env.dav.delete(viewer_root + "/f.txt")
    bob = Dav(env.client, user="bob")
    # viewers list the trash but may not restore (oCIS restoreSpaceObjects.feature: 207, 403)
    viewed = await bob.propfind(trash)
    [href] = [h for h in props_of(viewed.xml) if h != trash + "/"]
    await bob.move(href, viewer_root + "/back.txt", status=403)
    await bob.delete(href, status=403)
    space_id = space_seg.split("$", 1)[1]
    await env.storage.set_member(space_id, env.users["bob"].id, "editor")
    listing = await bob.propfind(trash)
    [href] = [h for h in props_of(listing.xml) if h != trash + "/"]
    await bob.delete(href, status=403)               # purging is for managers
    await bob.delete(trash + "/", status=403)
    await bob.move(href, viewer_root + "/back.txt", status=201)   # editors restore


# --- a real sync client: owncloudcmd deletes, the trash restores, the next sync brings it back -----

@pytest.mark.slow
def test_owncloudcmd_delete_then_restore_keeps_ids(real_server, tmp_path):
    import os
    import shutil
    import uuid

    from clients.helpers import OC as OCNS
    from clients.helpers import Dav as RawDav
    from clients.helpers import (
        describe,
        personal_space_id,
        read_tree,
        require_tool,
        run,
    )

    binary = require_tool("owncloudcmd")
    exclude = tmp_path / "exclude.lst"
    exclude.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    dav = RawDav(real_server.url, *real_server.admin)
    name = f"trash-occ-{uuid.uuid4().hex[:8]}"
    root = f"/remote.php/webdav/{name}"
    tree = {"a.txt": b"alpha\n", "sub/b.txt": b"beta\n", "sub/deeper/c.bin": bytes(range(256))}
    dav.upload_tree(root, tree)
    dav.request("PROPPATCH", f"{root}/sub", b'<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:t">'
                b"<d:set><d:prop><x:note>keep me</x:note></d:prop></d:set></d:propertyupdate>")
    ids = {e.href.rstrip("/").rsplit(f"/{name}/", 1)[-1]: e.props[f"{OCNS}id"]
           for path in (root, f"{root}/sub") for e in dav.propfind(path)[1:]}
    local = tmp_path / "local"
    local.mkdir()

    def sync():
        proc = run([binary, "--non-interactive", "--exclude", str(exclude), "-u",
                    real_server.admin_user, "-p", real_server.admin_password, str(local),
                    f"{real_server.url}{root}"], env=env)
        assert proc.returncode == 0, describe(proc)

    sync()
    assert read_tree(local) == tree
    (local / "a.txt").unlink()
    shutil.rmtree(local / "sub")
    sync()                                  # owncloudcmd sends the DELETEs
    assert dav.request("PROPFIND", f"{root}/sub", headers={"Depth": "0"}).status == 404
    space = personal_space_id(dav, real_server.admin_user)
    trash = f"/remote.php/dav/spaces/trash-bin/{space}/"
    items = [e for e in dav.propfind(trash, "1", ("oc:trashbin-original-location",))[1:]
             if e.props.get(f"{OCNS}trashbin-original-location", "").startswith(name + "/")]
    assert sorted(e.props[f"{OCNS}trashbin-original-location"] for e in items) == [
        f"{name}/a.txt", f"{name}/sub"]
    for entry in items:
        key = entry.href.rstrip("/").rsplit("/", 1)[-1]
        location = entry.props[f"{OCNS}trashbin-original-location"]
        resp = dav.request("MOVE", trash + key, headers={
            "Destination": f"{real_server.url}/remote.php/dav/spaces/{space}/{location}"})
        assert resp.status == 201, (resp.status, resp.body[:300])
    after = {e.href.rstrip("/").rsplit(f"/{name}/", 1)[-1]: e.props[f"{OCNS}id"]
             for path in (root, f"{root}/sub") for e in dav.propfind(path)[1:]}
    assert after == ids
    note = dav.request("PROPFIND", f"{root}/sub", b'<d:propfind xmlns:d="DAV:" xmlns:x="urn:t">'
                       b"<d:prop><x:note/></d:prop></d:propfind>", {"Depth": "0"})
    assert b"keep me" in note.body
    sync()                                  # and the restored tree comes back down
    assert read_tree(local) == tree


async def test_webdav_restore_into_a_locked_folder_needs_the_token(env):
    dav = env.dav
    await dav.mkcol("/box")
    await dav.put("/box/f.txt", b"f")
    await dav.delete("/box/f.txt")
    lock = await dav.request("LOCK", "/box", 200, body=(
        '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
        "</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>"))
    [item] = await env.storage.list_trash(env.users["alice"].id)
    url = f"{trash_url(env)}/{item.key}"
    await dav.move(url, "/box/f.txt", status=423)
    await dav.move(url, "/box/f.txt", status=201,
                   headers={"If": f"({lock.headers['Lock-Token']})"})


# --- inside a trashed folder: list, restore and purge what it held -----------------------------

async def test_browse_restore_and_purge_inside_a_trashed_folder(store):
    s, st = store, store.storage
    await st.mkdir(s.space, ("top",))
    await st.mkdir(s.space, ("top", "sub"))
    deep = await put(s, ("top", "sub", "deep.txt"), b"12345")
    await put(s, ("top", "a.txt"), b"aa")
    await put(s, ("top", "b.txt"), b"bbb")
    await st.delete(s.space, ("top",))
    [item] = await st.list_trash(s.space)
    assert item.size == 10
    inside = await st.list_trash_folder(s.space, item.key)
    assert [(i.key, i.name, i.is_dir, i.size, i.original_path) for i in inside] == [
        (f"{item.key}/a.txt", "a.txt", False, 2, ("top", "a.txt")),
        (f"{item.key}/b.txt", "b.txt", False, 3, ("top", "b.txt")),
        (f"{item.key}/sub", "sub", True, 5, ("top", "sub"))]
    deeper = await st.list_trash_folder(s.space, f"{item.key}/sub")
    assert [(i.name, i.size, i.deleted) for i in deeper] == [("deep.txt", 5, item.deleted)]
    assert await st.list_trash_folder(s.space, f"{item.key}/a.txt") == []
    with pytest.raises(NotFound):
        await st.trash_item(s.space, f"{item.key}/nope")
    with pytest.raises(NotFound):
        await st.trash_item(s.space, f"{item.key}/a.txt/below-a-file")
    # Restoring one file to its original place needs that place (its folder is in the trash).
    with pytest.raises(Conflict):
        await st.restore_trash(s.space, f"{item.key}/sub/deep.txt", overwrite=False)
    result = await st.restore_trash(s.space, f"{item.key}/sub/deep.txt", dst_path=("deep.txt",),
                                    overwrite=False)
    assert result.created and result.node.id == deep.id and result.node.size == 5
    assert (await st.get_space(s.space)).used == 5
    [item] = await st.list_trash(s.space)
    assert item.size == 5
    assert (await st.trash_item(s.space, f"{item.key}/sub")).size == 0
    # Purge one file inside; the rest stays and restores whole.
    await st.purge_trash(s.space, f"{item.key}/b.txt")
    assert (await st.list_trash(s.space))[0].size == 2
    assert await blobs_settle(s.root, 2) == 2
    restored = await st.restore_trash(s.space, item.key, overwrite=False)
    assert restored.node.size == 2
    names = [n.name for n in await st.children(await st.lookup(s.space, ("top",)))]
    assert names == ["a.txt", "sub"]
    assert await st.list_trash(s.space) == []


async def test_webdav_lists_inside_trashed_folders(env):
    dav = env.dav
    await dav.mkcol("/Photos")
    await dav.mkcol("/Photos/2026")
    await dav.put("/Photos/2026/sea view.jpg", b"jpeg")
    await dav.delete("/Photos")
    base = trash_url(env)
    [item] = await env.storage.list_trash(env.users["alice"].id)
    # Depth 1 on an item lists what the folder held (reva appends "/" to the key).
    listing = await dav.propfind(f"{base}/{item.key}", depth="1")
    hrefs = list(props_of(listing.xml))
    assert hrefs == [f"{base}/{item.key}/2026/"]
    listing = await dav.propfind(f"{base}/{item.key}/2026/", propfind_body(
        "oc:trashbin-original-location", "oc:trashbin-original-filename", "d:getcontentlength"))
    [(href, prop)] = props_of(listing.xml).items()
    assert href == f"{base}/{item.key}/2026/sea%20view.jpg"
    assert prop.findtext(f"{OC}trashbin-original-location") == "Photos/2026/sea view.jpg"
    assert prop.findtext(f"{OC}trashbin-original-filename") == "sea view.jpg"
    assert prop.findtext(f"{D}getcontentlength") == "4"
    zero = await dav.propfind(f"{base}/{item.key}/2026", depth="0")
    assert list(props_of(zero.xml)) == [f"{base}/{item.key}/2026/"]
    everything = await dav.propfind(base + "/", depth="infinity")
    assert len(everything.xml.findall(f"{D}response")) == 4   # root, Photos, 2026, the file
    await dav.propfind(f"{base}/{item.key}/missing", status=404)
    # Restore the file alone, then purge the (now empty) sub folder.
    await dav.move(href, "/sea.jpg", status=201)
    assert (await dav.get("/sea.jpg")).data == b"jpeg"
    await dav.delete(f"{base}/{item.key}/2026", status=204)
    listing = await dav.propfind(f"{base}/{item.key}", depth="1")
    assert list(props_of(listing.xml)) == []
