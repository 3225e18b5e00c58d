#!/usr/bin/env bash
# `make bench`: start our server the way the tests do (fresh config and data, free loopback port,
# HTTP Basic, admin/admin) and run the team's WebDAV benchmark (../shared/bench/peers.sh) with it
# as the extra column "ours" next to the peer servers. Ends with one table (scripts/bench_summary.py):
# per phase rate and server CPU per request of ours and each peer, medians over the rounds, the
# ratios ours / rclone (ours / nginx for the big files), peak RSS of our front process against
# rclone's and issue 18's targets met / not met; kept as $OUT/summary.md (davbench's own
# comparison stays in $OUT/summary.txt).
# env: PEERS, ROUNDS, BENCH_ARGS, WORKROOT, OUT as peers.sh; OCIS_SHARED_DIR (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
shared=${OCIS_SHARED_DIR:-$repo/../shared}
peers="$shared/bench/peers.sh"
[ -f "$peers" ] || { echo "bench: $peers not found (set OCIS_SHARED_DIR)" >&2; exit 1; }
PY=${PY:-$repo/.venv/bin/python}

# The peers peers.sh starts, from Debian (installed only when missing).
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] || need+=(libnginx-mod-http-dav-ext)
command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || need+=(apache2)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"

work=$(mktemp -d "${TMPDIR:-/tmp}/ocis-bench.XXXXXX")
. "$repo/scripts/lib/ours.sh"
server_pid=
stop_server() {
  [ -n "$server_pid" ] && { kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"          # the server's data: up to a few GiB after the big-file phase
}
trap stop_server EXIT
start_ours

export OUT=${OUT:-${TMPDIR:-/tmp}/davbench-results/$(date +%Y%m%d-%H%M%S)}
TARGET_URL="http://127.0.0.1:$port/remote.php/dav/files/admin" TARGET_PID=$server_pid \
TARGET_USER=admin TARGET_PASS=admin TARGET_LABEL=ours PY="$PY" bash "$peers"
cp "$work/server.log" "$OUT/ours-server.log" 2>/dev/null || true
if ! kill -0 "$server_pid" 2>/dev/null; then
  wait "$server_pid" && code=0 || code=$?
  echo "bench: our server exited (status $code) before the benchmark ended: no 'ours' column" >&2
  exit 1
fi
ls "$OUT"/ours-r*.json >/dev/null 2>&1 \
  || { echo "bench: davbench failed against our server, see $OUT/ours-r*.txt" >&2; exit 1; }
"$PY" "$repo/scripts/bench_summary.py" procs "$server_pid" --json "$OUT/ours-procs.json"
echo
"$PY" "$repo/scripts/bench_summary.py" table "$OUT" --ours ours
echo "bench: $OUT/summary.md (davbench's comparison: summary.txt; server log: ours-server.log)"
