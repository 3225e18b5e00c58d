"""Small PUTs, GETs and Depth 0 polls (the team's davbench, `--skip 10k --skip big --skip tree`)
through four layouts, all started here on free loopback ports and measured in one run, rounds
interleaved:

  a  the single-process default (`ocis server`, no NATS, SQLite)
  b  one front + one storage provider process (nats-server -js for registry and events)
  c  one front + two providers; two clients at once (admin and einstein, whose personal spaces
     sit on different providers)
  d  two fronts (PostgreSQL for the shared state, one NATS) over two providers; two clients at
     once, one per front (admin on the first, einstein on the second)

Every server process is passed to davbench with --pid (fronts, providers, nats-server, the
PostgreSQL postmaster with its backends), so the CPU is that of all of them summed. Prints, per
layout and phase: requests per second (all clients), median and p95 latency, server CPU per
request, requests per CPU-core-second (1 / CPU per request), and the extra hop (b - a).
Usage (the test venv: it uses tests/kit/cluster.py and tests/pgcluster.py):
    .venv/bin/python scripts/bench_scaleout.py [--rounds 3] [--small-count 1000] [--json out]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from pgcluster import PgCluster, throwaway_cluster  # noqa: E402

from tests.conftest import ADMIN_PASSWORD  # noqa: E402
from tests.kit.cluster import Cluster  # noqa: E402
from tests.kit.nats import NatsServer  # noqa: E402

PHASES = ("put_small", "get_small", "propfind0")
COUNT_KEY = {"put_small": "files", "get_small": "requests", "propfind0": "requests"}
SECOND = "second-provider-0000-0000-000000000002"
USERS = {"admin": ADMIN_PASSWORD, "einstein": "relativity"}
Client = tuple[str, str]                                  # (front URL, user)


class Layout:
    """One layout's processes and the clients that drive it."""

    def __init__(self, name: str, cluster: Cluster, clients: list[Client],
                 engines: Callable[[], list[int]]) -> None:
        self.name, self.cluster, self.clients, self.engines = name, cluster, clients, engines

    def pids(self) -> list[int]:
        return self.cluster.pids() + self.engines()


def _davbench() -> Path:
    shared = Path(os.environ.get("OCIS_SHARED_DIR", REPO.parent / "shared"))
    found = shared / "bench" / "davbench.py"
    if not found.exists():
        sys.exit(f"{found} not found (the team's shared/bench, beside the repository)")
    return found


def _homes(cluster: Cluster) -> dict[str, list[str]]:
    """The personal spaces (aliases) each provider holds, from its internal API."""
    found = {}
    for role, provider in cluster.providers.items():
        request = urllib.request.Request(
            f"{provider.internal}/rpc/list_spaces", data=b'{"args":{}}', method="POST",
            headers={"X-Machine-Auth-Api-Key": cluster.secret})
        with urllib.request.urlopen(request, timeout=10) as resp:
            spaces = json.loads(resp.read())["result"]
        found[role] = sorted(s["alias"] for s in spaces if s["type"] == "personal")
    return found


def _spread(cluster: Cluster, url: str) -> None:
    """einstein's space (made when the front came up) gets a file, so that admin's lands on the
    other provider (the fewest bytes used); fails unless each provider holds one of them."""
    for user, data in (("einstein", b"x" * 65536), ("admin", None)):
        auth = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
        request = urllib.request.Request(
            f"{url}/remote.php/dav/files/{user}/" + ("spread.bin" if data else ""), data=data,
            method="PUT" if data else "PROPFIND",
            headers={"Authorization": f"Basic {auth}", "Depth": "0"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status in (201, 204, 207), resp.status
    homes = _homes(cluster)
    print(f"personal spaces per provider: {homes}", file=sys.stderr)
    where = {alias: role for role, aliases in homes.items() for alias in aliases}
    if {"personal/admin", "personal/einstein"} - where.keys() or \
            where["personal/admin"] == where["personal/einstein"]:
        sys.exit(f"admin's and einstein's spaces are not on two providers: {homes}")


def build(work: Path, stack: ExitStack, pg: PgCluster) -> list[Layout]:
    def nats(name: str) -> NatsServer:
        server = NatsServer(work / name / "nats")
        server.start()
        stack.callback(server.stop)
        return server

    def cluster(name: str, with_nats: bool, *mounts: str) -> Cluster:
        (work / name).mkdir()
        found = Cluster(work / name, nats(name) if with_nats else None, fast_registry=False)
        stack.callback(found.stop)
        found.init(*mounts)
        for role in found.providers:
            if with_nats:
                found.start_provider(role)
        return found

    def nats_pid(c: Cluster) -> Callable[[], list[int]]:
        return lambda: [c.nats.proc.pid] if c.nats and c.nats.proc else []

    a = cluster("a", False)
    a_url = a.start_front(storage=True)
    b = cluster("b", True)
    b_url = b.start_front()
    c = cluster("c", True, "", SECOND)
    c_url = c.start_front()
    _spread(c, c_url)
    d = cluster("d", True, "", SECOND)
    shared = {"OCIS_DATABASE_URL": pg.url}
    d1 = d.start_front(shared, "front")
    _spread(d, d1)
    d2 = d.start_front(shared, "front2")

    def postmaster() -> list[int]:                        # its backends are its children
        return [int((pg.dir / "data" / "postmaster.pid").read_text().split()[0])]
    return [Layout("a", a, [(a_url, "admin")], lambda: []),
            Layout("b", b, [(b_url, "admin")], nats_pid(b)),
            Layout("c", c, [(c_url, "admin"), (c_url, "einstein")], nats_pid(c)),
            Layout("d", d, [(d1, "admin"), (d2, "einstein")],
                   lambda: nats_pid(d)() + postmaster())]


def _drive(layout: Layout, args: argparse.Namespace, out: Path) -> list[dict[str, object]]:
    """Every client of the layout at once, each a davbench process; their JSON results."""
    pids = [str(p) for p in layout.pids()]
    procs = []
    for i, (url, user) in enumerate(layout.clients):
        command = [sys.executable, "-W", "ignore::DeprecationWarning", str(_davbench()), "run",
                   f"{url}/remote.php/dav/files/{user}",
                   "--user", user, "--password", USERS[user], "--label", f"{layout.name}{i}",
                   "--skip", "10k", "--skip", "big", "--skip", "tree", "--quiet",
                   "--concurrency", str(args.concurrency),
                   "--small-count", str(args.small_count), "--get-count", str(args.get_count),
                   "--propfind0-count", str(args.propfind0_count),
                   "--move-count", str(min(args.small_count, 200)), "--propfind-reps", "3",
                   "--json", str(out / f"{layout.name}{i}.json")]
        for pid in pids:
            command += ["--pid", pid]
        procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
    for proc in procs:
        if proc.wait(timeout=1800) != 0:
            sys.exit(f"davbench against layout {layout.name} exited {proc.returncode}")
    return [json.loads((out / f"{layout.name}{i}.json").read_text())
            for i in range(len(layout.clients))]


def _phase(docs: list[dict[str, object]], phase: str) -> dict[str, float]:
    """One phase over all the clients of a round: requests per second summed, latency and
    server CPU per request (each client saw the CPU of all; the phases run side by side, so
    the mean of their readings is divided by the requests of all)."""
    recs = [doc["results"][phase] for doc in docs]                 # type: ignore[index]
    count = sum(rec[COUNT_KEY[phase]] for rec in recs)
    wall = statistics.mean(rec["wall_s"] for rec in recs)
    cpu = statistics.mean(rec["server_cpu_s"] for rec in recs)
    bad = sum(n for rec in recs for k, n in rec["statuses"].items() if not k.startswith("2"))
    if bad:
        sys.exit(f"{phase}: {bad} answers were not 2xx: {[r['statuses'] for r in recs]}")
    return {"req_s": count / wall, "lat_med_ms": statistics.median(r["lat_med_ms"] for r in recs),
            "lat_p95_ms": max(r["lat_p95_ms"] for r in recs), "cpu_ms": cpu / count * 1000}


def _report(results: dict[str, dict[str, list[dict[str, float]]]]) -> dict[str, object]:
    """Medians over the rounds; printed as a table; b - a is the extra hop."""
    med = {name: {phase: {key: statistics.median(r[key] for r in rounds)
                          for key in rounds[0]} for phase, rounds in phases.items()}
           for name, phases in results.items()}
    print(f"{'layout':6} {'phase':10} {'req/s':>8} {'med ms':>8} {'p95 ms':>8} "
          f"{'CPU ms/req':>10} {'req/core-s':>10}")
    for name, phases in med.items():
        for phase, row in phases.items():
            per_core = f"{1000 / row['cpu_ms']:10.0f}" if row["cpu_ms"] else f"{'-':>10}"
            print(f"{name:6} {phase:10} {row['req_s']:8.0f} {row['lat_med_ms']:8.2f} "
                  f"{row['lat_p95_ms']:8.2f} {row['cpu_ms']:10.2f} {per_core}")
    if "a" in med and "b" in med:
        for phase in PHASES:
            hop = med["b"][phase]["cpu_ms"] - med["a"][phase]["cpu_ms"]
            lat = med["b"][phase]["lat_med_ms"] - med["a"][phase]["lat_med_ms"]
            print(f"extra hop (b - a) {phase}: {hop:+.2f} ms CPU per request, {lat:+.2f} ms "
                  "median latency")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small-count", type=int, default=1000)
    parser.add_argument("--get-count", type=int, default=2000)
    parser.add_argument("--propfind0-count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", help="write the medians here")
    args = parser.parse_args()
    _davbench()
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        pg = stack.enter_context(throwaway_cluster())
        layouts = build(work, stack, pg)
        print(f"load average before: {os.getloadavg()}", file=sys.stderr)
        for round_no in range(args.rounds):
            shift = round_no % len(layouts)                # interleaved: a rotated order
            for layout in layouts[shift:] + layouts[:shift]:
                out = work / f"round{round_no}"
                out.mkdir(exist_ok=True)
                started = time.monotonic()
                docs = _drive(layout, args, out)
                print(f"round {round_no + 1} layout {layout.name}: "
                      f"{time.monotonic() - started:.0f} s", file=sys.stderr)
                for phase in PHASES:
                    results.setdefault(layout.name, {}).setdefault(phase, []).append(
                        _phase(docs, phase))
        print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    med = _report(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": args.rounds, "medians": med,
                                               "loadavg": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
