#!/usr/bin/env bash
# Resumable-upload benchmark (issue 3), loopback only, one run: a 1 GiB random file uploaded by
#   nginx-put  curl -T to nginx + dav module (the reference, as ../shared/bench/peers.sh runs it)
#   ours-put   curl -T to our /remote.php/dav/files/admin/ with OC-Checksum: SHA1
#   ours-tus   TUS, 10,000,000 B PATCHes with Upload-Checksum, file checksum in Upload-Metadata
#   ours-ng    chunking NG: MKCOL, 10,000,000 B PUTs, MOVE .file with OC-Checksum: SHA1
#   nginx-chunks  context only: the same Python client PUTting the 10,000,000 B pieces to nginx as
#              separate files (what the chunked pattern + our client cost without our server)
# REPS (default 3) alternating repetitions, median MB/s (1 MB = 1e6 B); client hashing is done once
# beforehand. Our server's VmHWM is reset (clear_refs 5) before each TUS upload and read after it.
# SETTLE=1: `sync` (untimed) before each upload, so that none pays for the writeback of the dirty
# pages an earlier one left (nginx does not flush its files; ours are flushed before each answer).
# env: REPS, SIZE_MIB (1024), SRCDIR (/dev/shm: the source file), WORKROOT (/tmp: both servers' data),
#      SETTLE (0)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PY=${PY:-$repo/.venv/bin/python}
REPS=${REPS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
CHUNK=10000000
export PATH="$PATH:/usr/sbin"

work=$(mktemp -d "${WORKROOT:-/tmp}/ocis-upbench.XXXXXX")
src=$(mktemp "${SRCDIR:-/dev/shm}/upbench-src.XXXXXX")
nginx_pid= server_pid=
cleanup() {
  for p in $nginx_pid $server_pid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $nginx_pid $server_pid; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work" "$src"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "[uploads $(date +%H:%M:%S)] $*" >&2; }
. "$repo/scripts/lib/ours.sh"

# --- nginx + WebDAV, configured as peers.sh configures its nginx-dav peer ------------------------
nport=$(free_port); nd="$work/nginx"; mkdir -p "$nd/data" "$nd/tmp"
nuser=""; [ "$(id -u)" -eq 0 ] && nuser="user root;"
cat > "$nd/nginx.conf" <<EOF
$nuser
worker_processes 1;
daemon off;
master_process on;
pid $nd/nginx.pid;
error_log $nd/error.log warn;
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path $nd/tmp;
  proxy_temp_path $nd/tmp/p; fastcgi_temp_path $nd/tmp/f; uwsgi_temp_path $nd/tmp/u; scgi_temp_path $nd/tmp/s;
  server {
    listen 127.0.0.1:$nport;
    root $nd/data;
    client_max_body_size 0;
    location / {
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      dav_access user:rw group:rw all:r;
    }
  }
}
EOF
nginx -e "$nd/error.log" -p "$nd" -c "$nd/nginx.conf" > "$nd/stdout.log" 2>&1 &
nginx_pid=$!
nurl="http://127.0.0.1:$nport"

# --- our server (scripts/lib/ours.sh), then wait for nginx too -------------------------------
start_ours
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X PROPFIND -H 'Depth: 0' "$nurl/")" = 207 ] && break
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$nd/error.log" "$nd/stdout.log" >&2; exit 1; }
  sleep 0.1
done

# --- the source file, hashed once -------------------------------------------------------------
log "writing $SIZE_MIB MiB of random bytes to $src"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$src"
size=$(stat -c %s "$src")
"$PY" scripts/tus_upload.py hash "$src" "$CHUNK" > "$work/hashes.json"
sha1=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha1"])' "$work/hashes.json")
log "sha1 $sha1, size $size, nginx :$nport (pid $nginx_pid), ours :$port (pid $server_pid)"

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$server_pid/status"; }
curl_put() {  # url [curl args...] -> seconds; fails unless 201/204
  local url=$1; shift
  local out; out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$@" -T "$src" "$url")
  case "${out%% *}" in 201|204) echo "${out#* }" ;; *) echo "PUT $url: HTTP ${out%% *}" >&2; return 1 ;; esac
}

results="$work/results.tsv"; : > "$results"
rss_base_hwm=$(kib VmHWM); rss_base=$(kib VmRSS)
methods=(nginx-put ours-put ours-tus ours-ng nginx-chunks)
for r in $(seq 1 "$REPS"); do
  n=${#methods[@]}; off=$(( (r - 1) % n ))           # rotate the order each repetition
  for m in "${methods[@]:$off}" "${methods[@]:0:$off}"; do
    name="up-r$r-$m.bin"
    [ "${SETTLE:-0}" = 1 ] && sync
    case $m in
      nginx-put) t=$(curl_put "$nurl/$name") ;;
      ours-put)  t=$(curl_put "$ourl/remote.php/dav/files/admin/$name" -u admin:admin \
                       -H "OC-Checksum: SHA1:$sha1") ;;
      ours-tus)  echo 5 > "/proc/$server_pid/clear_refs"   # reset VmHWM to the current RSS
                 before=$(kib VmRSS)
                 t=$("$PY" scripts/tus_upload.py tus "$ourl" admin admin "$src" "$work/hashes.json" "$name")
                 echo "rss $r $before $(kib VmHWM) $(kib VmRSS)" >> "$work/rss.txt" ;;
      nginx-chunks) t=$("$PY" scripts/tus_upload.py chunks "$nurl" - - "$src" "$work/hashes.json" "$name") ;;
      ours-ng)   t=$("$PY" scripts/tus_upload.py ng "$ourl" admin admin "$src" "$work/hashes.json" "$name") ;;
    esac
    printf '%s\t%s\t%s\n' "$m" "$r" "$t" >> "$results"
    log "rep $r $m: ${t}s = $(awk -v s="$size" -v t="$t" 'BEGIN{printf "%.1f", s/t/1e6}') MB/s"
    # check what arrived (size) and drop it from nginx so its disk does not fill
    if [ "$m" = nginx-put ]; then
      [ "$(stat -c %s "$nd/data/$name")" = "$size" ] || { echo "nginx: wrong size" >&2; exit 1; }
      rm -f "$nd/data/$name"
    elif [ "$m" = nginx-chunks ]; then
      got=$(cat "$nd/data/$name"/* | wc -c)
      [ "$got" = "$size" ] || { echo "nginx: chunks total $got, want $size" >&2; exit 1; }
      rm -rf "${nd:?}/data/$name"
    else
      got=$(curl -s -u admin:admin -X PROPFIND -H 'Depth: 0' "$ourl/remote.php/dav/files/admin/$name" \
            | grep -o '<d:getcontentlength>[0-9]*' | grep -o '[0-9]*$' || true)
      [ "$got" = "$size" ] || { echo "ours: $name has size '$got', want $size" >&2; exit 1; }
    fi
  done
done
rss_end_hwm=$(kib VmHWM); rss_end=$(kib VmRSS)

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  loadavg: $(cut -d' ' -f1-3 /proc/loadavg)  cpus: $(nproc)"
echo "file: $size B ($SIZE_MIB MiB) random, chunks $CHUNK B, $REPS alternating repetitions, median$([ "${SETTLE:-0}" = 1 ] && echo ', sync before each upload')"
"$PY" - "$results" "$size" <<'EOF'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().split("\n") if line]
size = int(sys.argv[2])
runs = {}
for method, _, secs in rows:
    runs.setdefault(method, []).append(size / float(secs) / 1e6)
ref = statistics.median(runs["nginx-put"])
print(f"{'method':<12} {'median MB/s':>11} {'vs nginx':>8}   runs MB/s")
for method in ("nginx-put", "ours-put", "ours-tus", "ours-ng", "nginx-chunks"):
    med = statistics.median(runs[method])
    print(f"{method:<12} {med:>11.1f} {med / ref:>7.2f}x   " + " ".join(f"{v:.1f}" for v in runs[method]))
EOF
echo
echo "our server RSS (KiB): at start VmRSS $rss_base (VmHWM $rss_base_hwm); at end VmRSS $rss_end (VmHWM $rss_end_hwm)"
while read -r _ r before hwm after; do
  echo "  TUS rep $r: VmRSS before $before, peak during upload (VmHWM after reset) $hwm (+$((hwm - before))), VmRSS after $after"
done < "$work/rss.txt"
