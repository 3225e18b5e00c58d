"""How far one node goes with the files of one space: fills einstein's personal space of a
single-process `ocis server` to each size (scripts/fill_space.py: through the storage API, the
server stopped meanwhile), then starts the server and measures, over HTTP Basic:

  poll      PROPFIND Depth 0 of the space root (what a sync client asks every few seconds)
  root      PROPFIND Depth 1 of the root (one entry per folder of 1000 files)
  folder    PROPFIND Depth 1 of one folder of 1000 files
  get       GET of a 1 KiB file picked at random among all

with latency (median, p95), requests per second (4 at once), server CPU per request and
requests per CPU-core-second; then the server's RSS (after these requests; peak) and the size of
the provider's metadata.db (+ its WAL) and of the blob folder. The data folder lies in /dev/shm by
default (tmpfs: the fill's fsyncs are free; say --dir for a disk). Usage:
    .venv/bin/python scripts/bench_space_size.py [--sizes 10000,100000] [--json out]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from fill_space import fill  # noqa: E402

from ocis_server.storage.sqlite import SqliteStorage  # noqa: E402
from tests.kit.cluster import Cluster  # noqa: E402

USER, PASSWORD = "einstein", "relativity"
PER_FOLDER = 1000
POLL_BODY = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
             b'<d:prop><d:getetag/><oc:size/><d:getlastmodified/></d:prop></d:propfind>')


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def _memory_kib(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1]) for line in status
            if line.startswith(("VmRSS", "VmHWM"))}


def _du(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


async def _measure(http: aiohttp.ClientSession, pid: int, count: int, parallel: int,
                   request: Callable[[], tuple[str, str, dict[str, str], bytes | None]],
                   expect: int) -> dict[str, float]:
    latencies: list[float] = []
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            method, url, headers, body = request()
            started = time.perf_counter()
            async with http.request(method, url, headers=headers, data=body) as resp:
                await resp.read()
                assert resp.status == expect, (method, url, resp.status)
            latencies.append(time.perf_counter() - started)
    cpu, wall = _cpu(pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    wall, cpu = time.perf_counter() - wall, _cpu(pid) - cpu
    latencies.sort()
    return {"requests": count, "req_s": count / wall,
            "lat_med_ms": statistics.median(latencies) * 1000,
            "lat_p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
            "cpu_ms": cpu / count * 1000, "req_per_core_s": count / cpu if cpu else 0.0}


async def _requests(url: str, pid: int, n: int, scale: int) -> dict[str, Any]:
    dav = f"{url}/remote.php/dav/files/{USER}"
    depth0 = {"Depth": "0", "Content-Type": "application/xml"}
    depth1 = {"Depth": "1", "Content-Type": "application/xml"}
    folders = (n + PER_FOLDER - 1) // PER_FOLDER

    def a_file() -> tuple[str, str, dict[str, str], bytes | None]:
        i = random.randrange(n)
        return "GET", f"{dav}/fill-{i // PER_FOLDER:06d}/f-{i:07d}.bin", {}, None
    async with aiohttp.ClientSession(auth=aiohttp.BasicAuth(USER, PASSWORD)) as http:
        await _measure(http, pid, 20, 1, lambda: ("PROPFIND", f"{dav}/", depth0, POLL_BODY), 207)
        return {
            "poll": await _measure(http, pid, 200 * scale, 4,
                                   lambda: ("PROPFIND", f"{dav}/", depth0, POLL_BODY), 207),
            "root": await _measure(http, pid, 20 * scale, 1,
                                   lambda: ("PROPFIND", f"{dav}/", depth1, POLL_BODY), 207),
            "folder": await _measure(
                http, pid, 20 * scale, 1, lambda: (
                    "PROPFIND", f"{dav}/fill-{random.randrange(folders):06d}/", depth1,
                    POLL_BODY), 207),
            "get": await _measure(http, pid, 500 * scale, 4, a_file, 200)}


async def _fill_to(root: Path, mount_id: str, n: int) -> dict[str, float]:
    storage = await SqliteStorage.open(root, mount_id)
    try:
        space = [s for s in await storage.list_spaces() if s.alias == f"personal/{USER}"][0]
        started = time.monotonic()
        added = await fill(storage, space.id, n, per_folder=PER_FOLDER)
        took = time.monotonic() - started
    finally:
        await storage.close()
    return {"added": added, "fill_s": took, "fill_per_s": added / took if took else 0.0}


def run(work: Path, sizes: list[int], scale: int) -> dict[int, dict[str, Any]]:
    cluster = Cluster(work, None)
    cluster.init()
    mount_id = tomllib.loads((work / "config" / "ocis.toml").read_text())[
        "storage_users"]["mount_id"]
    root = work / "front" / "storage" / "users"
    results: dict[int, dict[str, Any]] = {}
    try:
        cluster.start_front(storage=True)            # einstein signs in: the space exists
        for n in sizes:
            cluster.stop()
            filled = asyncio.run(_fill_to(root, mount_id, n))
            print(f"{n}: filled {filled}", file=sys.stderr)
            url = cluster.start_front(storage=True)
            pid = cluster.fronts["front"][1].pid
            measured = asyncio.run(_requests(url, pid, n, scale))
            db = sum(p.stat().st_size for p in root.glob("metadata.db*"))
            results[n] = {"fill": filled, **measured, "memory_kib": _memory_kib(pid),
                          "metadata_db_bytes": db, "data_folder_bytes": _du(root)}
            print(f"{n}: {json.dumps(results[n])}", file=sys.stderr)
    finally:
        cluster.stop()
    return results


def _print(results: dict[int, dict[str, Any]]) -> None:
    print(f"{'files':>8} {'request':7} {'req/s':>7} {'med ms':>8} {'p95 ms':>8} "
          f"{'CPU ms':>8} {'req/core-s':>10}")
    for n, found in results.items():
        for kind in ("poll", "root", "folder", "get"):
            row = found[kind]
            print(f"{n:8} {kind:7} {row['req_s']:7.1f} {row['lat_med_ms']:8.2f} "
                  f"{row['lat_p95_ms']:8.2f} {row['cpu_ms']:8.2f} {row['req_per_core_s']:10.0f}")
    for n, found in results.items():
        mem, db = found["memory_kib"], found["metadata_db_bytes"]
        print(f"{n:8} files: fill {found['fill']['fill_per_s']:.0f} files/s; server RSS "
              f"{mem['VmRSS'] / 1024:.0f} MiB (peak {mem['VmHWM'] / 1024:.0f}); metadata.db "
              f"{db / 2**20:.1f} MiB ({db / n * 1e6 / 2**30:.2f} GiB per million files); "
              f"data folder {found['data_folder_bytes'] / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dir", default="/dev/shm", help="where the data folder goes")
    parser.add_argument("--scale", type=int, default=1, help="multiply the request counts")
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-space-", dir=args.dir) as tmp:
        results = run(Path(tmp), sizes, args.scale)
    _print(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
