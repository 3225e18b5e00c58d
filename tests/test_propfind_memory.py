"""The real server's peak memory while it answers big Depth 1 PROPFINDs (ocdav/propstream.py
streams them from storage a page at a time):

- twenty concurrent listings of one 10,000-entry folder right after a change (nothing cached)
  share the pages they read (before: +257 MiB, about 13 MiB per answer);
- concurrent listings of different 40,000-entry folders cost a bounded amount together, not one
  folder's size each (before: each held its whole folder, about 1.5 KiB per entry).

The data folder is on a tmpfs so that filling the folders does not wait for the disk.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sqlite3
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import requests

from tests.test_diskfull import tmpfs

ENTRIES = 10_000
CONCURRENT = 20
MIB_PER_ANSWER = 4


def _peak_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


async def _fill(url: str) -> None:
    async with aiohttp.ClientSession(headers=_auth(),
                                     connector=aiohttp.TCPConnector(limit=16)) as s:
        async with s.request("MKCOL", f"{url}/remote.php/webdav/big") as r:
            assert r.status == 201
        gate = asyncio.Semaphore(16)

        async def put(i: int) -> None:
            async with gate, s.put(f"{url}/remote.php/webdav/big/f{i:05d}.txt", data=b"x") as r:
                assert r.status == 201, r.status
        await asyncio.gather(*(put(i) for i in range(ENTRIES)))


def _auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


async def _propfinds(url: str, count: int) -> list[int]:
    async with aiohttp.ClientSession(headers=_auth()) as s:
        async def one() -> int:
            async with s.request("PROPFIND", f"{url}/remote.php/webdav/big",
                                 headers={"Depth": "1"}) as r:
                assert r.status == 207
                body = await r.read()
                return body.count(b"<d:response>")
        return list(await asyncio.gather(*(one() for _ in range(count))))


def test_concurrent_propfinds_share_one_listing(tmp_path: Path,
                                                real_server_factory: Callable[..., Any]) -> None:
    with tmpfs(tmp_path / "srv" / "data", 512), \
            real_server_factory(tmp_path / "srv") as srv:
        asyncio.run(_fill(srv.url))
        assert asyncio.run(_propfinds(srv.url, 1)) == [ENTRIES + 1]     # warmed up
        # a change elsewhere: every cached listing is gone, all twenty miss at once
        assert requests.put(f"{srv.url}/remote.php/webdav/other.txt", data=b"y",
                            auth=srv.admin).status_code == 201
        before = _peak_mib(srv.process.pid)
        counts = asyncio.run(_propfinds(srv.url, CONCURRENT))
        grown = _peak_mib(srv.process.pid) - before
        assert counts == [ENTRIES + 1] * CONCURRENT
        assert grown <= CONCURRENT * MIB_PER_ANSWER, f"peak memory grew by {grown} MiB"


FOLDERS = 6
BIG = 40_000
BOUND_MIB = 72      # all of them together: the read cache's budget plus a few pages each


def _fill_by_sql(db_path: Path, folder_ids: list[str], template: str) -> None:
    """`BIG` files in each folder, written as the server writes a file row (a copy of one it
    made, with its own id, name and etag): 240,000 PUTs would take many minutes here."""
    db = sqlite3.connect(db_path, timeout=30)
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(nodes)")]
        row = dict(zip(cols, db.execute("SELECT * FROM nodes WHERE id = ?", (template,)).fetchone()))
        stamp = time.time_ns()
        with db:
            for folder in folder_ids:
                rows = []
                for i in range(BIG):
                    nid = str(uuid.uuid4())
                    rows.append(tuple({**row, "id": nid, "parent_id": folder, "name": f"f{i:06d}.txt",
                                       "etag": hashlib.md5(f"{nid}:{stamp}".encode()).hexdigest(),
                                       }[c] for c in cols))
                db.executemany(f"INSERT INTO nodes({','.join(cols)}) VALUES"
                               f" ({','.join('?' * len(cols))})", rows)
    finally:
        db.close()


async def _listing(session: aiohttp.ClientSession, url: str) -> list[str]:
    """The hrefs of one streamed Depth 1 answer, parsed as it arrives (well-formed to its end)."""
    parser = ET.XMLPullParser(events=("end",))
    hrefs: list[str] = []
    async with session.request("PROPFIND", url, headers={"Depth": "1"}) as r:
        assert r.status == 207
        async for chunk in r.content.iter_chunked(64 * 1024):
            parser.feed(chunk)
            for _event, element in parser.read_events():
                if element.tag == "{DAV:}response":
                    hrefs.append(str(element.findtext("{DAV:}href")))
                    element.clear()
    parser.close()
    return hrefs


def test_concurrent_listings_of_different_big_folders_cost_bounded_memory(
        tmp_path: Path, real_server_factory: Callable[..., Any]) -> None:
    with tmpfs(tmp_path / "srv" / "data", 1024), \
            real_server_factory(tmp_path / "srv") as srv:
        base = f"{srv.url}/remote.php/webdav"
        for k in range(FOLDERS):
            assert requests.request("MKCOL", f"{base}/big{k}", auth=srv.admin).status_code == 201
        assert requests.put(f"{base}/template.txt", data=b"x", auth=srv.admin).status_code == 201
        ids = [requests.request("PROPFIND", f"{base}/{name}", auth=srv.admin,
                                headers={"Depth": "0"}, data=_ID_BODY).text.split(
                                    "<oc:fileid>")[1].split("</oc:fileid>")[0].rsplit("!", 1)[1]
               for name in [f"big{k}" for k in range(FOLDERS)] + ["template.txt"]]
        _fill_by_sql(tmp_path / "srv" / "data" / "storage" / "users" / "metadata.db",
                     ids[:-1], ids[-1])
        # a change through the server: nothing it read before the fill is kept
        assert requests.put(f"{base}/other.txt", data=b"y", auth=srv.admin).status_code == 201
        before = _peak_mib(srv.process.pid)

        async def all_at_once() -> list[list[str]]:
            async with aiohttp.ClientSession(headers=_auth()) as s:
                return list(await asyncio.gather(
                    *(_listing(s, f"{base}/big{k}") for k in range(FOLDERS))))
        listings = asyncio.run(all_at_once())
        grown = _peak_mib(srv.process.pid) - before
        for k, hrefs in enumerate(listings):
            assert hrefs[0] == f"/remote.php/webdav/big{k}/"
            assert hrefs[1:] == [f"/remote.php/webdav/big{k}/f{i:06d}.txt" for i in range(BIG)]
        assert grown <= BOUND_MIB, f"peak memory grew by {grown} MiB for {FOLDERS} listings"


_ID_BODY = ('<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/>'
            "</d:prop></d:propfind>")
