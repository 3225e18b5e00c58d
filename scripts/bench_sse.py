#!/usr/bin/env python3
"""Change notifications vs polling: 200 SSE subscribers and a writer doing 100 uploads/s.

Starts a fresh server (as the tests do), then runs three phases of the same writer load (paced
PUTs of 1 KiB into one folder of einstein's space):
  quiet    the writer alone
  sse      + SUBSCRIBERS event streams (einstein's, the sync clients of the writer's space)
  polling  + SUBSCRIBERS clients doing a Depth 0 PROPFIND of the folder every second (what sync
           clients do without notifications)
and reports, per phase, the server's CPU seconds per second and RSS (from /proc), and for sse
the delay from each PUT's 201 to its `postprocessing-finished` event at every subscriber
(median, p99), for polling the delay until a poll sees the new etag of the folder.

Usage: scripts/bench_sse.py [--subscribers 200] [--rate 100] [--seconds 15]
Clients run in separate processes (so their parsing does not delay the server's answers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SSE = "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"
AUTH = ("einstein", "relativity")
_ETAG = re.compile(rb'event: postprocessing-finished\ndata: [^\n]*?"etag":"(\\"[0-9a-f]+\\")"')
PROPFIND = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop>'
            b"</d:propfind>")


def _cpu_rss(pid: int) -> tuple[float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return cpu, rss * 1024


async def _subscribe(url: str, count: int, until: float, out: Path, ready: mp.Event) -> None:
    arrivals: list[tuple[str, float]] = []
    opened = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal opened
        async with session.get(url + SSE, auth=aiohttp.BasicAuth(*AUTH)) as response:
            assert response.status == 200, response.status
            opened += 1
            if opened == count:
                ready.set()
            # Cheap parsing, so a subscriber process keeps up: the etags of the
            # postprocessing-finished events in each chunk, stamped when the chunk arrives.
            async for chunk in response.content.iter_any():
                now = time.time()
                arrivals.extend((m.decode().replace("\\", ""), now) for m in _ETAG.findall(chunk))
                if now > until:
                    return

    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(one(session)) for _ in range(count)]
        await asyncio.wait(tasks, timeout=max(1.0, until - time.time() + 5))
        for task in tasks:
            task.cancel()
    out.write_text(json.dumps(arrivals))


async def _poll(url: str, folder: str, count: int, until: float, out: Path,
                ready: mp.Event) -> None:
    seen: list[tuple[str, float]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(offset: float) -> None:
            await asyncio.sleep(offset)
            last = ""
            while time.time() < until:
                started = time.monotonic()
                async with session.request("PROPFIND", url + folder, data=PROPFIND,
                                           headers={"Depth": "0"},
                                           auth=aiohttp.BasicAuth(*AUTH)) as r:
                    body = await r.read()
                etag = body.split(b"getetag>")[1].split(b"<")[0].decode() if r.status == 207 else ""
                if etag != last:
                    seen.append((etag, time.time()))
                    last = etag
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        ready.set()
        await asyncio.gather(*(one(n / count) for n in range(count)))
    out.write_text(json.dumps(seen))


def _client(kind: str, url: str, folder: str, count: int, until: float, out: str,
            ready: mp.Event) -> None:
    if kind == "sse":
        asyncio.run(_subscribe(url, count, until, Path(out), ready))
    else:
        asyncio.run(_poll(url, folder, count, until, Path(out), ready))


async def _write(url: str, folder: str, rate: float, seconds: float, tag: str
                 ) -> tuple[list[tuple[str, float, str]], list[tuple[str, float]]]:
    """Paced PUTs: (etag, time of the 201, name) each; and (folder etag, time) after each."""
    done: list[tuple[str, float, str]] = []
    folder_etags: list[tuple[str, float]] = []
    auth = aiohttp.BasicAuth(*AUTH)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        async def put(n: int) -> None:
            name = f"{tag}-{n}.bin"
            async with session.put(f"{url}{folder}/{name}", data=os.urandom(1024),
                                   auth=auth) as r:
                if r.status == 201:
                    done.append((r.headers["ETag"], time.time(), name))
        start = time.monotonic()
        tasks = []
        n = 0
        while time.monotonic() - start < seconds:
            tasks.append(asyncio.create_task(put(n)))
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        async with session.request("PROPFIND", url + folder, data=PROPFIND,
                                   headers={"Depth": "0"}, auth=auth) as r:
            body = await r.read()
            folder_etags.append((body.split(b"getetag>")[1].split(b"<")[0].decode(),
                                 time.time()))
    return done, folder_etags


def _phase(name: str, url: str, pid: int, folder: str, args: argparse.Namespace,
           work: Path) -> dict[str, object]:
    procs, outs = [], []
    until = time.time() + args.seconds + 8
    ready_events = []
    if name != "quiet":
        per = max(1, args.subscribers // args.processes)
        for i in range(args.processes):
            out = work / f"{name}-{i}.json"
            ready = mp.Event()
            p = mp.Process(target=_client, args=(name, url, folder, per, until, str(out), ready))
            p.start()
            procs.append(p)
            outs.append(out)
            ready_events.append(ready)
        for ready in ready_events:
            ready.wait(60)
        time.sleep(2.0)                     # subscribers settled
    cpu0, _ = _cpu_rss(pid)
    t0 = time.monotonic()
    done, _ = asyncio.run(_write(url, folder, args.rate, args.seconds, name))
    elapsed = time.monotonic() - t0
    cpu1, rss = _cpu_rss(pid)
    for p in procs:
        p.join(args.seconds + 30)
    result: dict[str, object] = {
        "phase": name, "uploads": len(done), "uploads_per_s": round(len(done) / elapsed, 1),
        "server_cpu_s_per_s": round((cpu1 - cpu0) / elapsed, 3),
        "server_rss_mib": round(rss / 2**20, 1)}
    if name == "sse":
        when = {etag: t for etag, t, _ in done}
        delays = [t - when[etag] for out in outs if out.exists()
                  for etag, t in json.loads(out.read_text()) if etag in when]
        delays.sort()
        result.update(events=len(delays), expected=len(done) * args.subscribers,
                      delay_median_s=round(statistics.median(delays), 4) if delays else None,
                      delay_p99_s=round(delays[int(len(delays) * 0.99) - 1], 4) if delays else None)
    if name == "polling":
        polls = [json.loads(out.read_text()) for out in outs if out.exists()]
        result["poll_clients"] = args.subscribers
        result["etag_changes_seen"] = sum(len(p) for p in polls)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    from tests.conftest import launch_real_server    # the tests' way to start a fresh server
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        work = Path(tmp)
        env = {"SSE_MAX_STREAMS_PER_USER": str(args.subscribers + 10),
               "PROXY_MAX_CONNECTIONS_PER_ADDRESS": "0", "OCIS_LOG_LEVEL": "error"}
        with launch_real_server(work / "server", env) as server:
            folder = "/remote.php/dav/files/einstein/bench"
            asyncio.run(_mkcol(server.url + folder))
            results = [_phase(name, server.url, server.process.pid, folder, args, work)
                       for name in ("quiet", "sse", "polling")]
    quiet, sse, polling = results
    # The writer's own cost scales with the uploads a phase achieved: subtract it per upload.
    per_upload = float(quiet["server_cpu_s_per_s"]) / float(quiet["uploads_per_s"])
    extra_sse = float(sse["server_cpu_s_per_s"]) - per_upload * float(sse["uploads_per_s"])
    extra_poll = (float(polling["server_cpu_s_per_s"])
                  - per_upload * float(polling["uploads_per_s"]))
    summary = {"phases": results, "extra_cpu_s_per_s": {"sse": round(extra_sse, 3),
                                                         "polling": round(extra_poll, 3)},
               "sse_extra_cpu_vs_polling_extra_cpu": round(extra_sse / extra_poll, 3)
               if extra_poll > 0 else None}
    print(json.dumps(summary, indent=2))
    return 0


async def _mkcol(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.request(
            "MKCOL", url, auth=aiohttp.BasicAuth(*AUTH)) as r:
        assert r.status == 201, r.status


if __name__ == "__main__":
    sys.exit(main())
