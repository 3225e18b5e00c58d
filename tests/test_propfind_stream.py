"""PROPFIND streamed from storage a page at a time (ocdav/propstream.py): every entry once, in
name order, across page boundaries and while others write; what a failure after the first byte
does; Depth infinity streamed and capped. In-process, over a real SqliteStorage."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from kit import ALICE, D, Dav, headers, ocdav_root, propfind_body

from ocis_server.services.ocdav import propfind, propstream
from ocis_server.storage.sqlite import SqliteStorage

ROOT = "/remote.php/webdav"


@pytest.fixture
async def env(aiohttp_client: Any, tmp_path: Any) -> SimpleNamespace:
    root, _users, storage = await ocdav_root(
        tmp_path, ocdav_allow_propfind_depth_infinity=True,
        ocdav_propfind_depth_infinity_max_entries=3000)
    client = await aiohttp_client(root)
    return SimpleNamespace(client=client, storage=storage, dav=Dav(client))


async def _folder(storage: SqliteStorage, path: tuple[str, ...], count: int) -> None:
    await storage.mkdir(ALICE.id, path)
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with gate:
            await storage.mkdir(ALICE.id, (*path, f"e{i:05d}"))
    await asyncio.gather(*(one(i) for i in range(count)))


def _failing(message: str, code: int) -> Any:
    """A query that fails in the read thread as SQLite would."""
    def query(_conn: sqlite3.Connection) -> None:
        error = sqlite3.OperationalError(message)
        error.sqlite_errorcode = code   # type: ignore[attr-defined]
        raise error
    return query


def _hrefs(resp: Any) -> list[str]:
    return [str(r.findtext(f"{D}href")) for r in resp.xml.findall(f"{D}response")]


async def test_depth1_pages_list_every_entry_once_in_order(env: SimpleNamespace) -> None:
    count = propstream.PAGE * 2 + 345            # three pages, the last one partial
    await _folder(env.storage, ("big",), count)
    resp = await env.dav.propfind("/big/", propfind_body("d:getetag", "oc:favorite"))
    hrefs = _hrefs(resp)
    assert hrefs[0] == f"{ROOT}/big/"
    assert hrefs[1:] == [f"{ROOT}/big/e{i:05d}/" for i in range(count)]
    assert resp.data.count(b"<oc:favorite>0</oc:favorite>") == count + 1
    assert "Content-Length" not in resp.headers         # streamed (chunked), not built whole


async def test_a_listing_read_while_others_write_stays_consistent(env: SimpleNamespace,
                                                                  monkeypatch: Any) -> None:
    """Keyset paging: entries removed or added behind the cursor while a listing is read never
    make another entry appear twice or go missing."""
    count = propstream.PAGE * 2 + 10
    await _folder(env.storage, ("busy",), count)
    real = SqliteStorage.children_page
    calls: list[str | None] = []

    async def page_then_write(self: SqliteStorage, node: Any, after: str | None,
                              limit: int) -> Any:
        calls.append(after)
        if len(calls) == 2:        # between two pages: a delete before and after the cursor
            await self.delete(ALICE.id, ("busy", "e00003"))
            await self.delete(ALICE.id, ("busy", f"e{count - 1:05d}"))
            await self.mkdir(ALICE.id, ("busy", "e00003x"))     # sorts before the cursor
            await self.mkdir(ALICE.id, ("busy", "zz-new"))      # sorts after it
        return await real(self, node, after, limit)
    monkeypatch.setattr(SqliteStorage, "children_page", page_then_write)
    names = [h.rstrip("/").rsplit("/", 1)[1] for h in
             _hrefs(await env.dav.propfind("/busy/", propfind_body("d:getetag")))[1:]]
    assert len(names) == len(set(names))                            # nothing twice
    assert names == sorted(names)
    kept = {f"e{i:05d}" for i in range(count)} - {"e00003", f"e{count - 1:05d}"}
    assert kept <= set(names)                                       # nothing unchanged lost
    assert "zz-new" in names and f"e{count - 1:05d}" not in names   # after the cursor: seen
    assert len(calls) >= 3


async def test_a_page_that_cannot_be_read_before_the_answer_started_is_503(
        env: SimpleNamespace, monkeypatch: Any) -> None:
    await _folder(env.storage, ("f",), 10)

    async def locked(self: SqliteStorage, node: Any, after: str | None, limit: int) -> Any:
        return await self._read(_failing("database is locked", sqlite3.SQLITE_BUSY))
    monkeypatch.setattr(SqliteStorage, "children_page", locked)
    resp = await env.dav.propfind("/f/", status=503)
    assert resp.headers["Retry-After"] and b"ServiceUnavailable" in resp.data


async def test_a_page_failing_mid_answer_breaks_the_transfer(env: SimpleNamespace,
                                                             monkeypatch: Any,
                                                             caplog: Any) -> None:
    """Once 207 is sent, an unreadable page (entries unknown) must not end in a well-formed but
    short listing a sync client would take as deletions: the connection is closed mid-body."""
    await _folder(env.storage, ("g",), propstream.PAGE * 3)
    real = SqliteStorage.children_page

    async def fail_third(self: SqliteStorage, node: Any, after: str | None, limit: int) -> Any:
        if after is not None and after >= f"e{propstream.PAGE * 2 - 1:05d}":
            return await self._read(_failing("disk I/O error", sqlite3.SQLITE_IOERR))
        return await real(self, node, after, limit)
    monkeypatch.setattr(SqliteStorage, "children_page", fail_third)
    caplog.set_level(logging.ERROR, logger="ocis.ocdav")
    resp = await env.client.request("PROPFIND", f"{ROOT}/g/", headers=headers("alice"))
    assert resp.status == 207
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    assert "connection is closed mid-answer" in caplog.text
    # the next request on another connection is served normally
    monkeypatch.setattr(SqliteStorage, "children_page", real)
    ok = await env.dav.propfind("/g/", propfind_body("d:getetag"))
    assert len(_hrefs(ok)) == propstream.PAGE * 3 + 1


async def test_an_entry_that_fails_to_render_gets_its_own_500(env: SimpleNamespace,
                                                              monkeypatch: Any) -> None:
    await _folder(env.storage, ("r",), 5)
    getetag = propfind.LIVE[(propfind.D, "getetag")]

    def broken(node: Any, path: Any, rc: Any) -> str | None:
        if node.name == "e00002":
            raise ValueError("a bug")
        return getetag(node, path, rc)
    monkeypatch.setitem(propfind.LIVE, (propfind.D, "getetag"), broken)
    resp = await env.dav.propfind("/r/", propfind_body("d:getetag", "d:resourcetype"))
    bad = [r for r in resp.xml.findall(f"{D}response")
           if r.findtext(f"{D}href") == f"{ROOT}/r/e00002/"]
    assert [r.findtext(f"{D}status") for r in bad] == ["HTTP/1.1 500 Internal Server Error"]
    assert len(_hrefs(resp)) == 6


async def test_depth_infinity_streams_the_tree_depth_first(env: SimpleNamespace) -> None:
    wide = propstream.TREE_PAGE * 2 + 7          # more than one page in a folder with subfolders
    await _folder(env.storage, ("t",), wide)
    await _folder(env.storage, ("t", "e00001", "sub"), 3)
    await _folder(env.storage, ("t", f"e{wide - 1:05d}", "deep"), propstream.TREE_PAGE + 1)
    resp = await env.dav.propfind("/t/", propfind_body("d:getetag"), depth="infinity")
    got = [h[len(f"{ROOT}/t/"):] for h in _hrefs(resp)]
    expected = [""]
    for i in range(wide):
        expected.append(f"e{i:05d}/")
        if i == 1:
            expected += ["e00001/sub/"] + [f"e00001/sub/e{j:05d}/" for j in range(3)]
        if i == wide - 1:
            expected += [f"e{i:05d}/deep/"] + [f"e{i:05d}/deep/e{j:05d}/"
                                                for j in range(propstream.TREE_PAGE + 1)]
    assert got == expected


async def test_depth_infinity_beyond_the_cap_is_refused_before_streaming(
        env: SimpleNamespace) -> None:
    await _folder(env.storage, ("cap",), 2000)
    await _folder(env.storage, ("cap", "e00000", "more"), 1000)   # 3001 entries below /cap
    resp = await env.dav.propfind("/cap/", depth="infinity", status=403)
    assert b"<d:propfind-finite-depth/>" in resp.data and b"3000" in resp.data
    assert (await env.dav.propfind("/cap/e00000/", propfind_body("d:getetag"),
                                   depth="infinity")).status == 207   # a smaller subtree: fine
    await env.dav.propfind("/cap/", propfind_body("d:getetag"), depth="1")


async def test_count_below_stops_at_the_cap(env: SimpleNamespace) -> None:
    await _folder(env.storage, ("n",), 50)
    node = await env.storage.lookup(ALICE.id, ("n",))
    assert await env.storage.count_below(node, 1000) == 50
    assert await env.storage.count_below(node, 10) == 11
    leaf = await env.storage.lookup(ALICE.id, ("n", "e00000"))
    assert await env.storage.count_below(leaf, 10) == 0


async def test_a_tree_grown_past_the_cap_while_streamed_is_never_listed_short(
        env: SimpleNamespace, monkeypatch: Any) -> None:
    await _folder(env.storage, ("grew",), 3001)

    async def counted_before_it_grew(self: SqliteStorage, node: Any, limit: int) -> int:
        return 10
    monkeypatch.setattr(SqliteStorage, "count_below", counted_before_it_grew)
    resp = await env.client.request("PROPFIND", f"{ROOT}/grew/", headers={
        **headers("alice"), "Depth": "infinity"})
    assert resp.status == 207
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
