"""How far one node goes with the files of one space: fills einstein's personal space of a
single-process `ocis server` to each size (the storage's bulk import, `SqliteStorage.import_tree`,
as `ocis storage-users import` uses it: blobs, nodes, checksums, tree sizes and etags as uploads
make them, 20,000 files a transaction and one syncfs each; --fill-uploads: one upload each through
scripts/fill_space.py), the server stopped meanwhile, then starts the server and measures, over
HTTP Basic:

  poll      PROPFIND Depth 0 of the space root (what a sync client asks every few seconds)
  root      PROPFIND Depth 1 of the root (one entry per folder of 1000 files)
  folder    PROPFIND Depth 1 of one folder of 1000 files
  get       GET of a 1 KiB file picked at random among all

with latency (median, p95), requests per second (4 at once), server CPU per request and
requests per CPU-core-second; then the server's RSS (after these requests; peak) and the size of
the provider's metadata.db (+ its WAL) and of the blob folder. With --davbench, first with the
space empty and then at each size, the small-request phases of ../shared/bench/davbench.py (PUT
and GET of small files, Depth 0 polls, in a folder of their own) with the server's CPU per
request; with --rclone, `rclone serve webdav` on a folder of the same files (hard links to the
space's blobs, named like the space's files) gets the same requests in the same run. The data
folder lies in /dev/shm by default (tmpfs; say --dir for a disk). Usage:
    .venv/bin/python scripts/bench_space_size.py [--sizes 10000,100000] [--json out]
        [--rclone] [--davbench /work/shared/bench/davbench.py] [--consistency] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from fill_space import fill  # noqa: E402

from ocis_server.runtime.maintenance import consistency  # noqa: E402
from ocis_server.storage.bulkimport import Entry  # noqa: E402
from ocis_server.storage.sqlite import SqliteStorage  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.kit.cluster import Cluster  # noqa: E402

USER, PASSWORD = "einstein", "relativity"
PER_FOLDER = 1000
FILE_SIZE = 1024
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
    total = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def _name(i: int) -> tuple[str, str]:
    return f"fill-{i // PER_FOLDER:06d}", f"f-{i:07d}.bin"


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


async def _requests(dav: str, pid: int, n: int, scale: int,
                    auth: aiohttp.BasicAuth | None) -> dict[str, Any]:
    """poll, root, folder, get against the WebDAV folder `dav` holding the n files."""
    depth0 = {"Depth": "0", "Content-Type": "application/xml"}
    depth1 = {"Depth": "1", "Content-Type": "application/xml"}
    folders = (n + PER_FOLDER - 1) // PER_FOLDER

    def a_file() -> tuple[str, str, dict[str, str], bytes | None]:
        folder, name = _name(random.randrange(n))
        return "GET", f"{dav}/{folder}/{name}", {}, None
    async with aiohttp.ClientSession(auth=auth) as http:
        await _measure(http, pid, 20, 1, lambda: ("PROPFIND", f"{dav}/", depth0, POLL_BODY), 207)
        return {
            "poll": await _measure(http, pid, 200 * scale, 4,
                                   lambda: ("PROPFIND", f"{dav}/", depth0, POLL_BODY), 207),
            "root": await _measure(http, pid, 5 * scale, 1,
                                   lambda: ("PROPFIND", f"{dav}/", depth1, POLL_BODY), 207),
            "folder": await _measure(
                http, pid, 20 * scale, 1, lambda: (
                    "PROPFIND", f"{dav}/{_name(random.randrange(folders) * PER_FOLDER)[0]}/",
                    depth1, POLL_BODY), 207),
            "get": await _measure(http, pid, 500 * scale, 4, a_file, 200)}


def _entries(start: int, n: int) -> Iterator[Entry]:
    """The generated files start..n-1: 1 KiB each, PER_FOLDER to a folder; the content is the
    file's number repeated (cheap, and every file differs)."""
    for i in range(start, n):
        yield Entry(_name(i), data=(b"%07d\n" % i) * (FILE_SIZE // 8), mtime=1.7e9 + i)


async def _fill_to(root: Path, mount_id: str, n: int, uploads: bool) -> dict[str, float]:
    storage = await SqliteStorage.open(root, mount_id)
    try:
        space = [s for s in await storage.list_spaces() if s.alias == f"personal/{USER}"][0]
        have = 0 if not n else int(await storage._read(lambda conn: conn.execute(
            "SELECT count(*) FROM nodes WHERE space_id = ? AND is_dir = 0",
            (space.id,)).fetchone()[0]))
        started = time.monotonic()
        if uploads:
            added = await fill(storage, space.id, n, per_folder=PER_FOLDER)
        else:
            stats = await storage.import_tree(space.id, (), _entries(have, n), progress=lambda s:
                                              print(f"  imported {s.files} in {s.seconds:.0f} s",
                                                    file=sys.stderr))
            added = stats.files
        took = time.monotonic() - started
    finally:
        await storage.close()
    return {"added": added, "fill_s": took, "fill_per_s": added / took if took else 0.0}


def _link_tree(root: Path, target: Path) -> int:
    """Hard links to the space's blobs, named like its files, in `target` (for rclone)."""
    conn = sqlite3.connect(f"file:{root / 'metadata.db'}?mode=ro", uri=True)
    made = 0
    try:
        rows = conn.execute("SELECT f.name, n.name, n.blob_id FROM nodes n JOIN nodes f"
                            " ON f.id = n.parent_id WHERE n.is_dir = 0 AND f.name LIKE 'fill-%'")
        for folder, name, blob in rows:
            (target / folder).mkdir(exist_ok=True)
            dest = target / folder / name
            if not dest.exists():
                os.link(root / "blobs" / blob[0:2] / blob, dest)
                made += 1
    finally:
        conn.close()
    return made


def _davbench(davbench: Path, url: str, pid: int, auth: tuple[str, str] | None,
              out: Path) -> dict[str, float]:
    """davbench's small phases against `url`: server CPU ms per PUT, GET and Depth 0 poll."""
    args = [sys.executable, str(davbench), "run", url, "--pid", str(pid), "--skip", "10k",
            "--skip", "big", "--skip", "tree", "-q", "--json", str(out)]
    if auth is not None:
        args += ["--user", auth[0], "--password", auth[1]]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, timeout=900)
    results = json.loads(out.read_text())["results"]
    cpu: dict[str, float] = {}
    for phase, unit in (("put_small", "files"), ("get_small", "requests"),
                        ("propfind0", "requests")):
        row = results.get(phase) or {}
        if row.get("server_cpu_s") is not None and row.get(unit):
            cpu[phase] = row["server_cpu_s"] * 1000 / (row[unit] * row.get("reps", 1))
    return cpu


def _rclone(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(["rclone", "serve", "webdav", str(folder), "--addr",
                             f"127.0.0.1:{port}", "--log-level", "ERROR"],
                            env={**os.environ, "RCLONE_CONFIG": "/dev/null"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            import urllib.request
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/",
                                                          method="PROPFIND",
                                                          headers={"Depth": "0"}), timeout=2)
            break
        except OSError as exc:
            if getattr(exc, "code", None):
                break
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}"


def _measure_peer(folder: Path, n: int, scale: int, davbench: Path | None,
                  out: Path) -> dict[str, Any]:
    proc, url = _rclone(folder)
    try:
        found: dict[str, Any] = {}
        if n:
            found.update(asyncio.run(_requests(url, proc.pid, n, scale, None)))
        if davbench is not None:
            found["davbench"] = _davbench(davbench, url, proc.pid, None, out)
        found["memory_kib"] = _memory_kib(proc.pid)
        return found
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _consistency(root: Path) -> dict[str, Any]:
    """`ocis backup consistency` on the filled storage (server stopped): ok, counts, time."""
    started = time.monotonic()
    report, _ = consistency(root)
    return {"ok": report.ok, "findings": [f.as_dict() for f in report.findings[:10]],
            "counts": report.counts, "seconds": time.monotonic() - started}


def run(work: Path, sizes: list[int], scale: int, *, uploads: bool = False,
        davbench: Path | None = None, rclone: bool = False,
        check: bool = False) -> dict[int, dict[str, Any]]:
    cluster = Cluster(work, None)
    cluster.init()
    mount_id = tomllib.loads((work / "config" / "ocis.toml").read_text())[
        "storage_users"]["mount_id"]
    root = work / "front" / "storage" / "users"
    peer = work / "rclone"
    peer.mkdir()
    results: dict[int, dict[str, Any]] = {}
    try:
        cluster.start_front(storage=True)            # einstein signs in: the space exists
        for n in sizes:
            cluster.stop()
            filled = asyncio.run(_fill_to(root, mount_id, n, uploads))
            print(f"{n}: filled {filled}", file=sys.stderr)
            if check:
                filled["consistency"] = _consistency(root)
                print(f"{n}: {filled['consistency']}", file=sys.stderr)
            url = cluster.start_front(storage=True)
            pid = cluster.fronts["front"][1].pid
            dav = f"{url}/remote.php/dav/files/{USER}"
            found: dict[str, Any] = {"fill": filled}
            if n:
                found.update(asyncio.run(_requests(dav, pid, n, scale,
                                                   aiohttp.BasicAuth(USER, PASSWORD))))
            if davbench is not None:
                found["davbench"] = _davbench(davbench, dav, pid, (USER, PASSWORD),
                                              work / f"davbench-ours-{n}.json")
            db = sum(p.stat().st_size for p in root.glob("metadata.db*"))
            found.update(memory_kib=_memory_kib(pid), metadata_db_bytes=db,
                         data_folder_bytes=_du(root))
            if rclone:
                started = time.monotonic()
                linked = _link_tree(root, peer)
                found["rclone_links"] = {"made": linked, "seconds": time.monotonic() - started}
                found["rclone"] = _measure_peer(peer, n, scale, davbench,
                                                work / f"davbench-rclone-{n}.json")
            results[n] = found
            print(f"{n}: {json.dumps(found)}", file=sys.stderr)
    finally:
        cluster.stop()
    return results


def _row(n: int, who: str, kind: str, row: dict[str, float]) -> str:
    return (f"{n:8} {who:6} {kind:7} {row['req_s']:7.1f} {row['lat_med_ms']:8.2f} "
            f"{row['lat_p95_ms']:8.2f} {row['cpu_ms']:8.2f} {row['req_per_core_s']:10.0f}")


def _print(results: dict[int, dict[str, Any]]) -> None:
    print(f"{'files':>8} {'server':6} {'request':7} {'req/s':>7} {'med ms':>8} {'p95 ms':>8} "
          f"{'CPU ms':>8} {'req/core-s':>10}")
    for n, found in results.items():
        for kind in ("poll", "root", "folder", "get"):
            if kind in found:
                print(_row(n, "ours", kind, found[kind]))
            if kind in found.get("rclone", {}):
                print(_row(n, "rclone", kind, found["rclone"][kind]))
    for n, found in results.items():
        for who, bench in (("ours", found.get("davbench")),
                           ("rclone", found.get("rclone", {}).get("davbench"))):
            if bench:
                print(f"{n:8} {who:6} davbench server CPU ms/op: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in bench.items()))
    for n, found in results.items():
        mem, db = found["memory_kib"], found["metadata_db_bytes"]
        checked = found["fill"].get("consistency")
        if checked:
            print(f"{n:8} files: backup consistency {'ok' if checked['ok'] else 'FAILED'} in "
                  f"{checked['seconds']:.0f} s ({checked['counts']})")
        print(f"{n:8} files: fill {found['fill']['fill_per_s']:.0f} files/s "
              f"({found['fill']['fill_s']:.0f} s); server RSS "
              f"{mem['VmRSS'] / 1024:.0f} MiB (peak {mem['VmHWM'] / 1024:.0f}); metadata.db "
              f"{db / 2**20:.1f} MiB; data folder {found['data_folder_bytes'] / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="space sizes in files, ascending; 0 = the empty space")
    parser.add_argument("--dir", default="/dev/shm", help="where the data folder goes")
    parser.add_argument("--scale", type=int, default=1, help="multiply the request counts")
    parser.add_argument("--fill-uploads", action="store_true",
                        help="fill with one upload per file (scripts/fill_space.py)")
    parser.add_argument("--davbench", type=Path, help="davbench.py: run its small phases too")
    parser.add_argument("--rclone", action="store_true",
                        help="rclone serve webdav on the same files, same requests")
    parser.add_argument("--consistency", action="store_true",
                        help="run `ocis backup consistency` on each filled space (timed)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (to profile a server on it; delete it after)")
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    tmp = tempfile.mkdtemp(prefix="bench-space-", dir=args.dir)
    try:
        results = run(Path(tmp), sizes, args.scale, uploads=args.fill_uploads,
                      davbench=args.davbench, rclone=args.rclone, check=args.consistency)
    finally:
        if args.keep:
            print(f"kept {tmp} (config/, front/: OCIS_CONFIG_DIR and data; rclone/)",
                  file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    _print(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
