"""REPORT (favourites, name search) and PROPFIND on /dav/meta/<fileid>, over HTTP against ocdav
with a real SqliteStorage."""

from __future__ import annotations

import time
from types import SimpleNamespace
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET

import pytest
from kit import OC, D, Dav, ocdav_root, props_of

NSDECL = 'xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"'


def search_body(pattern: str, *, limit: str = "", offset: str = "", props: str = "") -> str:
    extra = (f"<oc:limit>{limit}</oc:limit>" if limit else "") + (
        f"<oc:offset>{offset}</oc:offset>" if offset else "")
    return (f'<?xml version="1.0"?><oc:search-files {NSDECL}><d:prop>{props or "<oc:fileid/>"}'
            f"</d:prop><oc:search><oc:pattern>{pattern}</oc:pattern>{extra}</oc:search>"
            "</oc:search-files>")


FAVORITES = (f'<?xml version="1.0"?><oc:filter-files {NSDECL}><d:prop><oc:favorite/><d:getetag/>'
             "<oc:fileid/></d:prop><oc:filter-rules><oc:favorite>1</oc:favorite></oc:filter-rules>"
             "</oc:filter-files>")


@pytest.fixture
async def env(aiohttp_client, tmp_path):
    root, users, storage = await ocdav_root(tmp_path)
    client = await aiohttp_client(root)
    return SimpleNamespace(client=client, users=users, storage=storage, dav=Dav(client),
                           bob=Dav(client, "bob"))


async def report(dav: Dav, path: str, body: str, status: int = 207):
    resp = await dav.request("REPORT", path, status, body=body)
    if status == 207:
        resp.xml = ET.fromstring(resp.data)
    return resp


def hrefs(resp) -> list[str]:
    return [unquote(h) for h in (r.findtext(f"{D}href") for r in resp.xml.findall(f"{D}response"))]


async def favorite(dav: Dav, path: str, value: str = "1") -> None:
    await dav.proppatch(path, f'<d:propertyupdate {NSDECL}><d:set><d:prop><oc:favorite>{value}'
                              "</oc:favorite></d:prop></d:set></d:propertyupdate>")


async def test_favorites_set_by_proppatch_are_listed(env):
    dav = env.dav
    await dav.mkcol("/docs")
    await dav.mkcol("/docs/sub")
    for name in ("/a.txt", "/docs/b.txt", "/docs/sub/c.txt", "/d.txt"):
        await dav.put(name)
    for name in ("/a.txt", "/docs/sub/c.txt", "/docs/sub", "/d.txt"):
        await favorite(dav, name)
    await favorite(dav, "/d.txt", "0")          # unfavourited again
    resp = await report(dav, "/remote.php/dav/files/alice/", FAVORITES)
    assert hrefs(resp) == ["/remote.php/dav/files/alice/a.txt",
                           "/remote.php/dav/files/alice/docs/sub/",
                           "/remote.php/dav/files/alice/docs/sub/c.txt"]
    props = props_of(resp.xml)
    assert all(p.findtext(f"{OC}favorite") == "1" and p.findtext(f"{D}getetag") for p in props.values())
    # scoped to the request path; bob sees none of alice's
    below = await report(dav, "/remote.php/dav/files/alice/docs/sub", FAVORITES)
    assert hrefs(below) == ["/remote.php/dav/files/alice/docs/sub/c.txt"]
    await report(env.bob, "/remote.php/dav/files/alice/", FAVORITES, 404)
    assert hrefs(await report(env.bob, "/remote.php/dav/files/bob/", FAVORITES)) == []


async def test_search_by_name_in_files_and_spaces(env):
    dav = env.dav
    await dav.mkcol("/Reports")
    await dav.put("/Reports/Q1 report.pdf")
    await dav.put("/Reports/q2-REPORT.txt")
    await dav.put("/notes.txt")
    await dav.put("/100%_done.txt")
    resp = await report(dav, "/remote.php/dav/files/alice/", search_body("report"))
    assert hrefs(resp) == ["/remote.php/dav/files/alice/Reports/",
                           "/remote.php/dav/files/alice/Reports/Q1 report.pdf",
                           "/remote.php/dav/files/alice/Reports/q2-REPORT.txt"]
    assert resp.headers["Content-Range"] == "rows 0-2/3"
    ids = {h: p.findtext(f"{OC}fileid") for h, p in props_of(resp.xml).items()}
    assert all(ids.values())
    # wildcards over the whole name; LIKE metacharacters are literal
    glob = await report(dav, "/remote.php/dav/files/alice/", search_body("*.txt"))
    assert [h.rsplit("/", 1)[1] for h in hrefs(glob)] == ["100%_done.txt", "q2-REPORT.txt",
                                                          "notes.txt"]   # by path
    literal = await report(dav, "/remote.php/dav/files/alice/", search_body("%_"))
    assert hrefs(literal) == ["/remote.php/dav/files/alice/100%_done.txt"]
    space = f"/remote.php/dav/spaces/{env.users['alice'].id}"
    spaced = await report(dav, space + "/Reports", search_body("REPORT"))
    assert hrefs(spaced) == [f"{space}/Reports/Q1 report.pdf", f"{space}/Reports/q2-REPORT.txt"]
    assert hrefs(await report(env.bob, "/remote.php/dav/files/bob/", search_body("report"))) == []


async def test_search_pages_with_offset_and_limit(env):
    dav = env.dav
    for i in range(12):
        await dav.put(f"/f{i:02d}.log")
    first = await report(dav, "/remote.php/webdav/", search_body("log", limit="5"))
    second = await report(dav, "/remote.php/webdav/", search_body("log", limit="5", offset="5"))
    last = await report(dav, "/remote.php/webdav/", search_body("log", limit="5", offset="10"))
    names = [h.rsplit("/", 1)[1] for r in (first, second, last) for h in hrefs(r)]
    assert names == [f"f{i:02d}.log" for i in range(12)]
    assert (first.headers["Content-Range"], second.headers["Content-Range"],
            last.headers["Content-Range"]) == ("rows 0-4/12", "rows 5-9/12", "rows 10-11/12")
    beyond = await report(dav, "/remote.php/webdav/", search_body("log", offset="50"))
    assert hrefs(beyond) == [] and beyond.headers["Content-Range"] == "rows */12"


async def test_search_sees_renames_moves_and_deletes(env):
    dav = env.dav
    await dav.mkcol("/a")
    await dav.put("/a/target.txt")
    await dav.move("/a/target.txt", "/a/renamed.txt")
    assert hrefs(await report(dav, "/remote.php/webdav/", search_body("target"))) == []
    await dav.mkcol("/b")
    await dav.move("/a", "/b/a")
    assert hrefs(await report(dav, "/remote.php/webdav/", search_body("renamed"))) == [
        "/remote.php/webdav/b/a/renamed.txt"]
    await dav.delete("/b")
    assert hrefs(await report(dav, "/remote.php/webdav/", search_body("renamed"))) == []


@pytest.mark.parametrize("body", [
    "",
    "<not-xml",
    f'<oc:filter-files {NSDECL}><oc:filter-rules/></oc:filter-files>',
    f'<oc:filter-files {NSDECL}><oc:filter-rules><oc:favorite>0</oc:favorite>'
    "</oc:filter-rules></oc:filter-files>",
    f'<oc:search-files {NSDECL}><oc:search><oc:pattern> </oc:pattern></oc:search></oc:search-files>',
    search_body("x", limit="-1"),
    search_body("x", offset="ten"),
    f'<d:propfind {NSDECL}/>',
    '<!DOCTYPE x [<!ENTITY e "boom">]><oc:search-files xmlns:oc="http://owncloud.org/ns">&e;'
    "</oc:search-files>",
])
async def test_bad_report_bodies_are_400_with_dav_error(env, body):
    resp = await report(env.dav, "/remote.php/webdav/", body, 400)
    assert b"<s:exception>" in resp.data and b"Traceback" not in resp.data


async def test_report_on_missing_scope_is_404(env):
    await report(env.dav, "/remote.php/webdav/nope", search_body("x"), 404)


# --- PROPFIND /dav/meta/<fileid> -------------------------------------------------------------

META_BODY = (f'<?xml version="1.0"?><d:propfind {NSDECL}><d:prop><oc:meta-path-for-user/>'
             "<oc:id/></d:prop></d:propfind>")


async def meta_path(dav: Dav, file_id: str, status: int = 207) -> str | None:
    resp = await dav.request("PROPFIND", f"/remote.php/dav/meta/{quote(file_id, safe='')}",
                             status, body=META_BODY, headers={"Depth": "0"})
    if status != 207:
        assert b"<s:exception>" in resp.data
        return None
    xml = ET.fromstring(resp.data)
    (href, prop), = props_of(xml).items()
    assert href.startswith("/remote.php/dav/meta/") and prop.findtext(f"{OC}id") == file_id
    return prop.findtext(f"{OC}meta-path-for-user")


async def test_meta_path_for_user(env):
    dav = env.dav
    await dav.mkcol("/docs")
    await dav.mkcol("/docs/deep")
    put = await dav.put("/docs/deep/f.txt")
    file_id = put.headers["OC-FileId"]
    folder = (await env.storage.lookup(env.users["alice"].id, ("docs",)))
    assert await meta_path(dav, file_id) == "/docs/deep/f.txt"
    await dav.move("/docs/deep/f.txt", "/docs/g.txt")          # follows the file, not its name
    assert await meta_path(dav, file_id) == "/docs/g.txt"
    # bob: 404 for alice's file, the same as for an id that never existed
    await meta_path(env.bob, file_id, 404)
    await meta_path(env.bob, file_id.rsplit("!", 1)[0] + "!" + "0" * 36, 404)
    await meta_path(env.bob, "not-an-id", 404)
    # once shared with him, the path starts at the shared folder
    await env.storage.create_share(node_id=folder.id, grantee_type="user",
                                   grantee_id=env.users["bob"].id, role_id="viewer",
                                   permissions=1, creator_id=env.users["alice"].id)
    assert await meta_path(env.bob, file_id) == "/docs/g.txt"
    await dav.delete("/docs")
    await meta_path(dav, file_id, 404)


async def test_meta_allprop_and_methods(env):
    put = await env.dav.put("/x.txt")
    file_id = put.headers["OC-FileId"]
    resp = await env.dav.request("PROPFIND", f"/dav/meta/{file_id}", 207, body="")
    assert b"<oc:meta-path-for-user>/x.txt</oc:meta-path-for-user>" in resp.data
    await env.dav.request("DELETE", f"/dav/meta/{file_id}", 405)


# --- the queries use the indexes ---------------------------------------------------------------

def test_search_queries_are_index_lookups_not_scans():
    import sqlite3

    from ocis_server.storage import search
    from ocis_server.storage.schema import SCHEMA

    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO nodes VALUES('r','s',NULL,'',1,0,0,0,0,'e',NULL,NULL,NULL,NULL)")
    conn.execute("INSERT INTO nodes VALUES('a','s','r','Alpha',0,0,0,0,0,'e',NULL,NULL,NULL,NULL)")
    conn.execute("INSERT INTO favorites VALUES('u1', 'a')")
    plans: list[str] = []
    original = conn.execute

    def explain(sql, params=()):
        if sql.lstrip().upper().startswith("SELECT"):
            plans.extend(str(row[3]) for row in original("EXPLAIN QUERY PLAN " + sql, params))
        return original(sql, params)

    class Traced:
        execute = staticmethod(explain)
    assert search._name_matches(Traced(), "s", "%LPH%") == [("a", "r", "Alpha")]
    assert any("nodes_space_name" in p for p in plans), plans
    # an old database without the index still answers (opened read-only, nothing can add it)
    conn.execute("DROP INDEX nodes_space_name")
    assert search._name_matches(conn, "s", "alpha") == [("a", "r", "Alpha")]
    plans.clear()
    assert search._favorite_rows(Traced(), "s", "u1") == [("a", "r", "Alpha")]
    assert search._favorite_rows(conn, "s", "u2") == []          # favourites are per user
    plan = list(plans)
    assert "PRIMARY KEY (user_id=?)" in plan[0] and "SCAN" not in " ".join(plan), plan


def test_like_pattern_escapes_and_wildcards():
    from ocis_server.storage.search import like_pattern

    assert like_pattern("a_b%") == "%a\\_b\\%%"
    assert like_pattern("*.p?f") == "%.p_f"
    assert like_pattern("back\\slash") == "%back\\\\slash%"


async def test_search_through_a_share_stays_inside_it(env):
    dav = env.dav
    for folder in ("/docs", "/other"):
        await dav.mkcol(folder)
    await dav.put("/docs/secret-a.txt")
    await dav.put("/other/secret-b.txt")
    docs = await env.storage.lookup(env.users["alice"].id, ("docs",))
    await env.storage.create_share(node_id=docs.id, grantee_type="user",
                                   grantee_id=env.users["bob"].id, role_id="viewer",
                                   permissions=1, creator_id=env.users["alice"].id)
    rid = quote(docs.resource_id, safe="")
    by_id = await report(env.bob, f"/remote.php/dav/spaces/{rid}", search_body("secret"))
    assert hrefs(by_id) == [f"/remote.php/dav/spaces/{unquote(rid)}/secret-a.txt"]
    jail = await report(env.bob, "/remote.php/dav/files/bob/Shares/docs", search_body("secret"))
    assert hrefs(jail) == ["/remote.php/dav/files/bob/Shares/docs/secret-a.txt"]
    # the whole space stays closed to him
    space = quote(f"{docs.storage_id}${docs.space_id}", safe="")
    await report(env.bob, f"/remote.php/dav/spaces/{space}", search_body("secret"), 404)
