#!/usr/bin/env bash
# Profile our single-process server (scripts/lib/ours.sh) under one kind of small request:
#   scripts/smallreq/profile.sh get|p0 OUT [py-spy options, e.g. --native --gil]
# writes OUT.raw (py-spy raw stacks, summarise with layers.py) and OUT.txt (req/s, CPU/op).
set -u
here=$(cd "$(dirname "$0")" && pwd); repo=${REPO:-$(cd "$here/../.." && pwd)}
PY=${PY:-$repo/.venv/bin/python}; SPY=${SPY:-$(command -v py-spy || echo "$(dirname "$PY")/py-spy")}
mode=$1; out=$2; shift 2; work=$(mktemp -d)
. "$repo/scripts/lib/ours.sh"
start_ours || exit 1
"$PY" "$here/load.py" "$ourl/remote.php/dav/files/admin" "$mode" 3 "$server_pid" >/dev/null 2>&1
"$SPY" record --pid "$server_pid" -f raw --rate "${RATE:-150}" -d "${DUR:-12}" -o "$out.raw" "$@" \
  > "$out.pyspy.log" 2>&1 &
spy=$!; sleep 1
GP_NOSETUP=1 "$PY" "$here/load.py" "$ourl/remote.php/dav/files/admin" "$mode" "${DUR:-12}" \
  "$server_pid" 2>/dev/null | tee "$out.txt"
wait $spy
kill "$server_pid"; wait "$server_pid" 2>/dev/null; rm -rf "$work"
