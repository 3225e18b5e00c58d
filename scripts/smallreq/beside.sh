#!/usr/bin/env bash
# Our server, the aiohttp floor (floor.py) and `rclone serve webdav`, one after another per round,
# each under load.py get and p0 for D seconds: CPU per request of the three in the same minutes.
#   ROUNDS=2 D=8 scripts/smallreq/beside.sh
set -u
here=$(cd "$(dirname "$0")" && pwd); repo=${REPO:-$(cd "$here/../.." && pwd)}
PY=${PY:-$repo/.venv/bin/python}; D=${D:-8}
. "$repo/scripts/lib/ours.sh"
for r in $(seq 1 "${ROUNDS:-2}"); do
  work=$(mktemp -d); start_ours || exit 1
  for m in get p0; do echo "r$r ours $("$PY" "$here/load.py" "$ourl/remote.php/dav/files/admin" $m "$D" "$server_pid" 2>/dev/null)"; done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null; rm -rf "$work"
  p=$(free_port); "$PY" "$here/floor.py" "$p" & fp=$!; sleep 1.5
  for m in get p0; do echo "r$r floor $("$PY" "$here/load.py" "http://127.0.0.1:$p/d" $m "$D" $fp 2>/dev/null)"; done
  kill $fp; wait $fp 2>/dev/null
  p=$(free_port); d=$(mktemp -d); rclone serve webdav --addr "127.0.0.1:$p" "$d" >/dev/null 2>&1 & rp=$!; sleep 1.5
  for m in get p0; do echo "r$r rclone $("$PY" "$here/load.py" "http://127.0.0.1:$p" $m "$D" $rp 2>/dev/null)"; done
  kill $rp; wait $rp 2>/dev/null; rm -rf "$d"
done
