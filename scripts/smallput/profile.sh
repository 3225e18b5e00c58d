#!/usr/bin/env bash
# Where a small PUT's server CPU goes: our server from a checkout under 5000 x 4 KiB PUTs (8 at
# once), one tool attached for a window in the middle of the phase:
#   scripts/smallput/profile.sh CHECKOUT LABEL pyspy|perf|strace|cpu
# pyspy: py-spy --gil samples (Python time by layer: python3 layers.py OUT/LABEL.raw);
# perf: perf record -g (user by library, kernel by system call: python3 perfsys.py OUT/LABEL.perf);
# strace: strace -c -f (system calls per PUT = calls / renames); cpu: user and kernel ticks only.
set -u
here=$(cd "$(dirname "$0")" && pwd); PY=${PY:-$(cd "$here/../.." && pwd)/.venv/bin/python}
repo=$1; label=$2; mode=$3; out=${OUT:-/tmp/smallput}; mkdir -p "$out"
work=$(mktemp -d "${WORKROOT:-/tmp}/smallput.XXXX")
. "$repo/scripts/lib/ours.sh"; start_ours || exit 1
timeout 300 "$PY" "$here/../../../shared/bench/davbench.py" run "$ourl/remote.php/dav/files/admin" \
  --user admin --password admin --pid "$server_pid" --skip 10k --skip big --skip tree --propfind-reps 1 \
  --get-count 10 --propfind0-count 10 --move-count 2 --small-count 5000 -q --json "$out/$label.json" \
  > "$out/$label.txt" 2>&1 &
bench=$!
sleep 2
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$server_pid/stat")
case $mode in
  pyspy) timeout 60 "$(dirname "$PY")/py-spy" record --pid "$server_pid" -f raw --rate 200 -d 8 \
           --nonblocking --gil -o "$out/$label.raw" > "$out/$label.pyspy.log" 2>&1 ;;
  perf) timeout 30 perf record -F 499 -g -p "$server_pid" -o "$out/$label.perf" -- sleep 6 \
          > "$out/$label.perf.log" 2>&1 ;;
  strace) timeout 20 strace -c -f -p "$server_pid" -o "$out/$label.strace" & sp=$!
          sleep 6; kill -INT $sp; wait $sp ;;
  *) sleep 6 ;;
esac
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$server_pid/stat")
echo "server CPU in the window: user $((u1 - u0)) ticks, kernel $((s1 - s0)) ticks"
wait $bench
kill "$server_pid"; wait "$server_pid" 2>/dev/null; rm -rf "$work"
