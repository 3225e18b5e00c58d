#!/usr/bin/env bash
# A/B of the first GET after upload (first.py), alternated: OLD=/path/a NEW=/path/b ROUNDS=3 scripts/smallreq/abfirst.sh
set -u
here=$(cd "$(dirname "$0")" && pwd); PY=${PY:-$(cd "$here/../.." && pwd)/.venv/bin/python}
for r in $(seq 1 "${ROUNDS:-3}"); do for v in old new; do
  if [ $v = old ]; then repo=$OLD; else repo=$NEW; fi
  . "$repo/scripts/lib/ours.sh"
  work=$(mktemp -d); start_ours || exit 1
  echo "r$r $v $("$PY" "$here/first.py" "$ourl/remote.php/dav/files/admin" "$server_pid" "${N:-2000}" 2>/dev/null)"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null; rm -rf "$work"
done; done
