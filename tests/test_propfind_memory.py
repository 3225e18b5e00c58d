"""Twenty concurrent Depth 1 PROPFINDs of a 10,000-entry folder, right after a change (nothing
cached), must not raise the real server's peak memory by more than a few MiB per answer: they
share one listing read instead of building twenty (before: +257 MiB, about 13 MiB per answer).
The data folder is on a tmpfs so that filling the folder does not wait for the disk.
"""

from __future__ import annotations

import asyncio
import base64
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
