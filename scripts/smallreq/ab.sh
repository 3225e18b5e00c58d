#!/usr/bin/env bash
# A/B of two checkouts, alternated: OLD=/path/a NEW=/path/b ROUNDS=2 D=8 scripts/smallreq/ab.sh
set -u
here=$(cd "$(dirname "$0")" && pwd); PY=${PY:-$(cd "$here/../.." && pwd)/.venv/bin/python}; D=${D:-8}
for r in $(seq 1 "${ROUNDS:-2}"); do for v in old new; do
  if [ $v = old ]; then repo=$OLD; else repo=$NEW; fi
  . "$repo/scripts/lib/ours.sh"
  work=$(mktemp -d); start_ours || exit 1
  for m in get p0; do echo "r$r $v $("$PY" "$here/load.py" "$ourl/remote.php/dav/files/admin" $m "$D" "$server_pid" 2>/dev/null)"; done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null; rm -rf "$work"
done; done
