# Sourced by the benchmark scripts: start our server the way the tests do (fresh `ocis init` in
# "$work", free loopback ports, HTTP Basic, admin/admin) and wait until status.php answers.
# Needs: $PY, $repo, $work. Sets: port, rport, ourl, server_pid (the caller stops it).

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_ours() {
  port=$(free_port); rport=$(free_port)
  ourl="http://127.0.0.1:$port"
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
  export OCIS_CONFIG_DIR="$work/config" OCIS_BASE_DATA_PATH="$work/data" OCIS_INSECURE=true \
         OCIS_URL="$ourl" PROXY_HTTP_ADDR="127.0.0.1:$port" OCIS_RUNTIME_PORT=$rport \
         PROXY_ENABLE_BASIC_AUTH=true IDM_LDAPS_ADDR=127.0.0.1:0 \
         OCIS_WORKERS="${OCIS_WORKERS:-1}"   # per-request CPU of one front; OCIS_WORKERS=2 measures workers
  # Run from "$work": `python -m` puts the working directory first on sys.path, so started from
  # inside a checkout it would run that checkout's code instead of $repo's (an A/B of two
  # checkouts would measure one of them twice).
  (cd "$work" && "$PY" -m ocis_cli init --insecure true --admin-password admin) > "$work/init.log" 2>&1 \
    || { cat "$work/init.log" >&2; return 1; }
  (cd "$work" && exec "$PY" -m ocis_cli server) > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$ourl/status.php" && return 0
    kill -0 "$server_pid" 2>/dev/null || { tail -n 40 "$work/server.log" >&2; return 1; }
    sleep 0.1
  done
  echo "our server is not ready after 30 s" >&2; tail -n 40 "$work/server.log" >&2
  return 1
}
