#!/usr/bin/env python3
"""The one table `make bench` ends with (issue 18): per phase the rate and the server CPU per
request of our server and of each peer that ran, medians over the rounds, the ratios ours / rclone
(and ours / nginx for the big files), the peak RSS of our front process against rclone's, and the
issue's targets marked met or not met. Reads davbench's JSON files in $OUT, writes summary.md.

  bench_summary.py procs PID --json OUT/ours-procs.json  # VmHWM of each process of PID's tree
  bench_summary.py table OUT [--ours ours]               # OUT/summary.md, also printed
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Result = dict[str, Any]                      # davbench's "results" of one server and round
Metric = Callable[[Result], float | None]

RCLONE, NGINX = "rclone", "nginx-dav"
PEER_ORDER = ("nginx-dav", "rclone", "wsgidav", "apache-dav", "aiohttp-min")


def rate(phase: str, key: str) -> Metric:
    def value(res: Result) -> float | None:
        got = (res.get(phase) or {}).get(key)
        return float(got) if isinstance(got, (int, float)) and got > 0 else None
    return value


def cpu_per(phase: str, count: str, per: float = 1.0) -> Metric:
    """Server CPU ms per unit of work: davbench's server_cpu_s over the phase's count (times its
    repetitions for the PROPFIND phases), `per` units at a time (1000 entries, 1e9 bytes)."""
    def value(res: Result) -> float | None:
        ph = res.get(phase) or {}
        cpu, n = ph.get("server_cpu_s"), ph.get(count)
        if not isinstance(cpu, (int, float)) or cpu <= 0 or not n:
            return None                  # 0: under one clock tick, not a measurement
        return float(cpu) * 1000.0 / (float(n) * float(ph.get("reps", 1)) / per)
    return value


def peak_rss_mib(res: Result) -> float | None:
    kb = ((res.get("rss") or {}).get("end") or {}).get("vmhwm_kb")
    return kb / 1024.0 if kb else None


# (row, unit, metric, higher is better, ratio ours / nginx too)
ROWS: list[tuple[str, str, Metric, bool, bool]] = [
    ("PUT 4 KiB", "files/s", rate("put_small", "files_per_s"), True, False),
    ("PUT 4 KiB server CPU", "ms/req", cpu_per("put_small", "files"), False, False),
    ("GET 4 KiB", "req/s", rate("get_small", "req_per_s"), True, False),
    ("GET 4 KiB server CPU", "ms/req", cpu_per("get_small", "requests"), False, False),
    ("PROPFIND Depth 0 poll", "req/s", rate("propfind0", "req_per_s"), True, False),
    ("PROPFIND Depth 0 poll server CPU", "ms/req", cpu_per("propfind0", "requests"), False, False),
    ("PROPFIND 1k entries", "ent/s", rate("propfind_1k", "entries_per_s"), True, False),
    ("PROPFIND 1k server CPU", "ms/1k ent", cpu_per("propfind_1k", "entries", 1000), False, False),
    ("MOVE file", "ops/s", rate("move_files", "ops_per_s"), True, False),
    ("MOVE file server CPU", "ms/op", cpu_per("move_files", "moves"), False, False),
    ("PUT 64 B (10k folder)", "files/s", rate("seed_10k", "files_per_s"), True, False),
    ("PUT 64 B server CPU", "ms/req", cpu_per("seed_10k", "files"), False, False),
    ("PROPFIND 10k entries", "ent/s", rate("propfind_10k", "entries_per_s"), True, False),
    ("PROPFIND 10k server CPU", "ms/1k ent", cpu_per("propfind_10k", "entries", 1000), False,
     False),
    ("PUT big file", "MB/s", rate("put_big", "mb_per_s"), True, True),
    ("PUT big file server CPU", "ms/GB", cpu_per("put_big", "bytes", 1e9), False, True),
    ("GET big file", "MB/s", rate("get_big", "mb_per_s"), True, True),
    ("GET big file server CPU", "ms/GB", cpu_per("get_big", "bytes", 1e9), False, True),
    ("peak RSS (server process tree)", "MiB", peak_rss_mib, False, False),
]

# (what the issue asks, row, the most ours / rclone may be)
TARGETS = [
    ("GET 4 KiB server CPU <= rclone's", "GET 4 KiB server CPU", 1.0),
    ("Depth 0 poll server CPU <= rclone's", "PROPFIND Depth 0 poll server CPU", 1.0),
    ("PUT 4 KiB server CPU <= 1.2x rclone's", "PUT 4 KiB server CPU", 1.2),
    ("peak RSS of our front process <= 0.5x rclone's", "front peak RSS", 0.5),
]


def load(out: Path) -> dict[str, list[Result]]:
    """davbench's result documents in `out` (<label>-r<round>.json), by label."""
    by_label: dict[str, list[Result]] = {}
    for path in sorted(out.glob("*-r*.json")):
        if not re.fullmatch(r".+-r\d+\.json", path.name):
            continue
        doc = json.loads(path.read_text())
        by_label.setdefault(str(doc["label"]), []).append(doc["results"])
    return by_label


def median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.{digits}f}"


def front_rss(out: Path, ours: str, by_label: dict[str, list[Result]]) -> float | None:
    """Peak RSS (MiB) of our largest process: from ours-procs.json (bench.sh reads every
    process of our server's tree before stopping it), else davbench's tree sum."""
    procs = out / f"{ours}-procs.json"
    if procs.is_file():
        peaks = [p["vmhwm_kb"] for p in json.loads(procs.read_text())["processes"]]
        return max(peaks) / 1024.0 if peaks else None
    return median([peak_rss_mib(r) for r in by_label.get(ours, [])])


def build(out: Path, ours: str) -> dict[str, Any]:
    """Medians, ratios and targets, as a JSON-able document (summary.md is made from it)."""
    by_label = load(out)
    labels = [x for x in (ours, *PEER_ORDER) if x in by_label]
    labels += sorted(x for x in by_label if x not in labels)
    rows: list[dict[str, Any]] = []
    for name, unit, metric, higher, vs_nginx in ROWS:
        med = {lab: median([metric(r) for r in by_label[lab]]) for lab in labels}
        rows.append({"row": name, "unit": unit, "higher_is_better": higher, "medians": med,
                     "ours_rclone": ratio(med.get(ours), med.get(RCLONE)),
                     "ours_nginx": ratio(med.get(ours), med.get(NGINX)) if vs_nginx else None})
    mine = front_rss(out, ours, by_label)
    theirs = median([peak_rss_mib(r) for r in by_label.get(RCLONE, [])])
    rows.append({"row": "front peak RSS", "unit": "MiB", "higher_is_better": False,
                 "medians": {ours: mine, RCLONE: theirs} if RCLONE in by_label else {ours: mine},
                 "ours_rclone": ratio(mine, theirs), "ours_nginx": None})
    by_row = {r["row"]: r for r in rows}
    targets = []
    for what, row, limit in TARGETS:
        got = by_row[row]["ours_rclone"]
        targets.append({"target": what, "ours_rclone": got, "limit": limit,
                        "met": None if got is None else got <= limit})
    return {"labels": labels, "ours": ours, "rounds": {x: len(by_label[x]) for x in labels},
            "rows": rows, "targets": targets}


def markdown(doc: dict[str, Any]) -> str:
    labels, ours = doc["labels"], doc["ours"]
    rounds = ", ".join(f"{x} {n}" for x, n in doc["rounds"].items())
    lines = [f"# make bench: medians over rounds ({rounds})", "",
             "| phase | unit | " + " | ".join(labels) + f" | {ours} / rclone | {ours} / nginx |",
             "| --- | --- | " + " | ".join("---:" for _ in labels) + " | ---: | ---: |"]
    for r in doc["rows"]:
        if all(v is None for v in r["medians"].values()):
            continue                     # a phase no server ran (BENCH_ARGS="--skip ...")
        cells = [fmt(r["medians"].get(x)) for x in labels]
        lines.append(f"| {r['row']} | {r['unit']} | " + " | ".join(cells) +
                     f" | {fmt(r['ours_rclone'])} | {fmt(r['ours_nginx'])} |")
    lines += ["", "Ratios are ours / peer of the medians: above 1 is more requests (or MB) per "
              "second, or more CPU per request and more memory.", "", "## Targets (issue 18)", ""]
    for t in doc["targets"]:
        mark = ("not measured (no rclone or no CPU reading)" if t["met"] is None
                else "met" if t["met"] else "NOT met")
        lines.append(f"- {t['target']}: {fmt(t['ours_rclone'])}x (limit {t['limit']}x): {mark}")
    return "\n".join(lines) + "\n"


def proc_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            data = Path(f"/proc/{name}/stat").read_bytes()
            ppid = int(data[data.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def procs(root: int) -> dict[str, Any]:
    """VmHWM (the peak since the process started) of each process of the tree."""
    found = []
    for pid in proc_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        hwm = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if hwm:
            found.append({"pid": pid, "vmhwm_kb": int(hwm.group(1)), "cmd": cmd.strip()[:200]})
    return {"root": root, "processes": found}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("procs", help="peak RSS of each process of a server's tree")
    p.add_argument("pid", type=int)
    p.add_argument("--json", required=True)
    t = sub.add_parser("table", help="write OUT/summary.md and print it")
    t.add_argument("out")
    t.add_argument("--ours", default="ours", help="our server's davbench label")
    a = ap.parse_args(argv)
    if a.cmd == "procs":
        Path(a.json).write_text(json.dumps(procs(a.pid), indent=1))
        return 0
    out = Path(a.out)
    doc = build(out, a.ours)
    if not doc["labels"]:
        print(f"bench_summary: no davbench results in {out}", file=sys.stderr)
        return 1
    (out / "summary-issue18.json").write_text(json.dumps(doc, indent=1))
    text = markdown(doc)
    (out / "summary.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
