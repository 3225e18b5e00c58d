#!/usr/bin/env bash
# One server, davbench's small phases with put_small weighted (2000 x 4 KiB PUTs); prints files/s
# and server CPU per PUT. Our server from a checkout, or rclone beside it:
#   scripts/smallput/run.sh ours /path/to/checkout LABEL     (WORKROOT=/dev/shm: data on tmpfs)
#   scripts/smallput/run.sh rclone - LABEL
# A/B: alternate two checkouts (and rclone) a few rounds, compare the medians (docs/benchmarks.md).
set -u
here=$(cd "$(dirname "$0")" && pwd); PY=${PY:-$(cd "$here/../.." && pwd)/.venv/bin/python}
kind=$1; repo=$2; label=$3; out=${OUT:-/tmp/smallput}; mkdir -p "$out"
work=$(mktemp -d "${WORKROOT:-/tmp}/smallput.XXXX")
if [ "$kind" = ours ]; then
  . "$repo/scripts/lib/ours.sh"; start_ours || exit 1
  url="$ourl/remote.php/dav/files/admin"; pid=$server_pid; auth=(--user admin --password admin)
else
  mkdir -p "$work/data"
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  RCLONE_CONFIG="$work/rclone.conf" rclone serve webdav "$work/data" --addr "127.0.0.1:$port" \
    --log-level ERROR >"$work/rclone.log" 2>&1 &
  pid=$!; url="http://127.0.0.1:$port/"; auth=()
  for _ in $(seq 1 100); do curl -fs -o /dev/null -X PROPFIND -H 'Depth: 0' "$url" && break; sleep 0.1; done
fi
timeout 300 "$PY" "$here/../../../shared/bench/davbench.py" run "$url" "${auth[@]}" --pid "$pid" \
  --skip 10k --skip big --skip tree --small-count "${COUNT:-2000}" --propfind-reps 1 --get-count 200 \
  --propfind0-count 100 --move-count 20 -q --json "$out/$label.json" > "$out/$label.txt" 2>&1
kill "$pid"; wait "$pid" 2>/dev/null; rm -rf "$work"
"$PY" - "$out/$label.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))["results"]["put_small"]
print(f"{sys.argv[1]}: {r['files_per_s']} files/s, server CPU {1000 * r['server_cpu_s'] / r['files']:.3f} ms/PUT")
P
