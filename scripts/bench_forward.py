"""The cost of the proxy's hop to another node (MICRO_REGISTRY=nats-js-kv, runtime/forward.py).

Starts its own `nats-server -js` and two `ocis server` processes on free loopback ports (same
ocis.toml): `back` runs graph and ocdav (with the storage and user store), `front` runs the rest
and forwards /graph and /remote.php to `back`. Then, one request at a time over a kept-alive
connection, N GETs of a 4 KiB file, N PROPFIND Depth 0 and N GET /graph/v1.0/me (HTTP Basic as
admin) straight to `back` and through `front`, alternating; prints the median and p90 latency
of each and the CPU seconds each process used per request. Usage:
    .venv/bin/python scripts/bench_forward.py [N]      (default 300)
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import requests

ADMIN = ("admin", "admin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"a node exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url} not ready")


def _node(tmp: Path, name: str, nats: str, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port, runtime = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCIS_", "PROXY_", "IDM_"))}
    env |= {"OCIS_CONFIG_DIR": str(tmp / "config"), "OCIS_BASE_DATA_PATH": str(tmp / name),
            "PROXY_HTTP_ADDR": f"127.0.0.1:{port}", "OCIS_RUNTIME_PORT": str(runtime),
            "OCIS_URL": f"http://127.0.0.1:{port}", "PROXY_ENABLE_BASIC_AUTH": "true",
            "OCIS_INSECURE": "true", "IDM_LDAPS_ADDR": "127.0.0.1:0", "OCIS_LOG_LEVEL": "warn",
            "OCIS_WORKERS": "1",
            "MICRO_REGISTRY": "nats-js-kv", "MICRO_REGISTRY_ADDRESS": nats,
            "STORAGE_USERS_HTTP_ADDR": "127.0.0.1:0"} | extra
    if not (tmp / "config" / "ocis.toml").exists():
        subprocess.run([sys.executable, "-m", "ocis_cli", "init", "--insecure", "true",
                        "--admin-password", "admin"], env=env, check=True, capture_output=True)
    log = (tmp / f"{name}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _wait(f"http://127.0.0.1:{runtime}/readyz", proc, tmp / f"{name}.log")
    return proc, f"http://127.0.0.1:{port}"


def _measure(session: requests.Session, method: str, url: str, **kwargs: object) -> float:
    t0 = time.perf_counter()
    answer = session.request(method, url, auth=ADMIN, timeout=30, **kwargs)  # type: ignore[arg-type]
    answer.content
    assert answer.status_code < 300, (answer.status_code, url)
    return time.perf_counter() - t0


def main(n: int) -> None:
    nats_bin = shutil.which("nats-server") or sys.exit("nats-server is not installed")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        nats_port = _free_port()
        nats = subprocess.Popen([nats_bin, "-a", "127.0.0.1", "-p", str(nats_port), "-js",
                                 "-sd", str(tmp / "js")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        procs = [nats]
        try:
            time.sleep(0.5)
            address = f"127.0.0.1:{nats_port}"
            back, back_url = _node(tmp, "back", address, {
                "OCIS_RUN_SERVICES": "storage-users,users,graph,ocdav,proxy"})
            procs.append(back)
            front, front_url = _node(tmp, "front", address,
                                     {"OCIS_EXCLUDE_RUN_SERVICES": "graph,ocdav"})
            procs.append(front)
            session = requests.Session()
            session.put(f"{back_url}/remote.php/webdav/small.bin", data=os.urandom(4096),
                        auth=ADMIN, timeout=30).raise_for_status()
            while session.get(f"{front_url}/graph/v1.0/me", auth=ADMIN, timeout=30).status_code != 200:
                time.sleep(0.3)
            cases = [("GET 4 KiB", "GET", "/remote.php/webdav/small.bin", {}),
                     ("PROPFIND 0", "PROPFIND", "/remote.php/webdav/small.bin",
                      {"headers": {"Depth": "0"}}),
                     ("graph me", "GET", "/graph/v1.0/me", {})]
            print(f"{n} requests each, one at a time, kept-alive connection")
            for label, method, path, kwargs in cases:
                times: dict[str, list[float]] = {"direct": [], "forwarded": []}
                cpu0 = (_cpu(front.pid), _cpu(back.pid))
                for _ in range(n):
                    times["direct"].append(_measure(session, method, back_url + path, **kwargs))
                cpu1 = (_cpu(front.pid), _cpu(back.pid))
                for _ in range(n):
                    times["forwarded"].append(_measure(session, method, front_url + path, **kwargs))
                cpu2 = (_cpu(front.pid), _cpu(back.pid))
                for way, values in times.items():
                    values.sort()
                    print(f"{label:11} {way:9} median {statistics.median(values) * 1000:6.2f} ms"
                          f"  p90 {values[int(len(values) * 0.9)] * 1000:6.2f} ms")
                print(f"{label:11} CPU per request: direct back {(cpu1[1] - cpu0[1]) / n * 1000:.2f} ms;"
                      f" forwarded front {(cpu2[0] - cpu1[0]) / n * 1000:.2f} ms"
                      f" + back {(cpu2[1] - cpu1[1]) / n * 1000:.2f} ms")
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
