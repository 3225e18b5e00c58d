#!/usr/bin/env bash
# OCIS_WORKERS=1 against OCIS_WORKERS=2 (issue 18, "every core"), alternated: for each round a
# fresh server of each layout (scripts/lib/ours.sh), davbench's small phases (PUT 4 KiB, GET,
# PROPFIND Depth 0), the server CPU of the parent and every worker summed (davbench --pid counts
# children) and davbench's own CPU (one Python process: client_cpu_s per phase).
# Usage: scripts/bench_workers.sh [ROUNDS] [OUT_DIR]   (default 2 rounds, /tmp/bench-workers)
# Summary: scripts/bench_workers.sh summary OUT_DIR
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$repo/.venv/bin/python}
BENCH=${BENCH:-$repo/../shared/bench/davbench.py}
[ -f "$BENCH" ] || BENCH=/work/shared/bench/davbench.py
CONC=${CONC:-16}

summary() {
  "$PY" - "$1" <<'EOF'
import glob, json, os, statistics, sys
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "w*-r*.json"))):
    workers = os.path.basename(path).split("-")[0]
    data = json.load(open(path))
    phases = data.get("results", data)
    for name in ("put_small", "get_small", "propfind0"):
        ph = phases.get(name)
        if not ph:
            continue
        n = ph.get("files") or ph.get("requests")
        rows.setdefault((name, workers), []).append(
            (n / ph["wall_s"], ph["server_cpu_s"] * 1000 / n, ph["client_cpu_s"] / ph["wall_s"]))
print("| phase | workers | req/s (each round) | median | server CPU ms/req (median) | client CPU, cores (median) |")
print("|---|---|---|---|---|---|")
for (name, workers), vals in sorted(rows.items()):
    rates = [v[0] for v in vals]
    print(f"| {name} | {workers[1:]} | {', '.join(f'{r:.0f}' for r in rates)} | "
          f"{statistics.median(rates):.0f} | {statistics.median(v[1] for v in vals):.3f} | "
          f"{statistics.median(v[2] for v in vals):.2f} |")
EOF
}

if [ "${1:-}" = summary ]; then summary "$2"; exit 0; fi
rounds=${1:-2}; out=${2:-/tmp/bench-workers}
mkdir -p "$out"
. "$repo/scripts/lib/ours.sh"
for round in $(seq 1 "$rounds"); do
  for w in 1 2; do
    work=$(mktemp -d /tmp/bench-workers.XXXX)
    export OCIS_WORKERS=$w
    start_ours || { echo "start failed (workers $w)"; rm -rf "$work"; continue; }
    if [ "$w" -gt 1 ]; then     # the other workers start once worker 0 answers
      for _ in $(seq 1 600); do grep -q "ready: $w workers" "$work/server.log" && break; sleep 0.1; done
    fi
    sleep 2
    timeout 900 "$PY" "$BENCH" run "$ourl/remote.php/dav/files/admin" --user admin --password admin \
      --pid "$server_pid" --skip 10k --skip big --skip tree -c "$CONC" -q \
      --json "$out/w$w-r$round.json" > "$out/w$w-r$round.txt" 2>&1
    kill "$server_pid"; wait "$server_pid" 2>/dev/null; rm -rf "$work"
    echo "done workers=$w round $round $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
summary "$out"
