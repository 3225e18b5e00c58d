"""The cost of the extra hop to a storage provider in another process: N small PUTs, then N
GETs of them, one at a time, through (a) one `ocis server` (storage in its process) and (b) a
front (`OCIS_EXCLUDE_RUN_SERVICES=storage-users`) + `ocis storage-users server` over the internal
API, both on a `nats-server -js` registry and event bus. Prints per-request latency (median,
p95) and the CPU seconds of the server processes per request. Usage:
    .venv/bin/python scripts/bench_remote_provider.py [N]      (default 500)
"""

from __future__ import annotations

import asyncio
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

import aiohttp

PASSWORD = "admin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu(pid: int) -> float:
    """utime + stime of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _env(work: Path, nats: str, role: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCIS_", "STORAGE_"))}
    env.update({"OCIS_CONFIG_DIR": str(work / "config"), "OCIS_BASE_DATA_PATH": str(work / role),
                "OCIS_URL": f"http://127.0.0.1:{port}", "PROXY_HTTP_ADDR": f"127.0.0.1:{port}",
                "OCIS_INSECURE": "true", "PROXY_ENABLE_BASIC_AUTH": "true",
                "OCIS_RUNTIME_PORT": str(_free_port()), "IDM_LDAPS_ADDR": "127.0.0.1:0",
                "MICRO_REGISTRY": "nats-js-kv", "MICRO_REGISTRY_ADDRESS": nats,
                "OCIS_EVENTS_ENDPOINT": nats, "OCIS_LOG_LEVEL": "error", **extra})
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ocis_cli", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        request = urllib.request.Request(f"{url}/remote.php/dav/files/admin/", method="PROPFIND",
                                         headers={"Depth": "0"})
        request.add_header("Authorization", "Basic " + __import__("base64").b64encode(
            f"admin:{PASSWORD}".encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                if resp.status == 207:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"server at {url} not ready")


async def _run(url: str, n: int, prefix: str) -> tuple[list[float], list[float]]:
    auth = aiohttp.BasicAuth("admin", PASSWORD)
    base = f"{url}/remote.php/dav/files/admin"
    puts, gets = [], []
    async with aiohttp.ClientSession(auth=auth) as http:
        for i in range(n):
            t0 = time.perf_counter()
            async with http.put(f"{base}/{prefix}{i}.txt", data=os.urandom(1024)) as resp:
                assert resp.status == 201, resp.status
            puts.append(time.perf_counter() - t0)
        for i in range(n):
            t0 = time.perf_counter()
            async with http.get(f"{base}/{prefix}{i}.txt") as resp:
                assert resp.status == 200 and len(await resp.read()) == 1024
            gets.append(time.perf_counter() - t0)
    return puts, gets


def _measure(name: str, url: str, procs: list[subprocess.Popen[bytes]], n: int) -> None:
    asyncio.run(_run(url, 20, "warm"))              # warm-up (not counted)
    before = sum(_cpu(p.pid) for p in procs)
    puts, gets = asyncio.run(_run(url, n, "b"))
    cpu = sum(_cpu(p.pid) for p in procs) - before
    for verb, times in (("PUT", puts), ("GET", gets)):
        times.sort()
        print(f"{name:7} {verb} 1 KiB x{n}: median {statistics.median(times) * 1000:.2f} ms, "
              f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms")
    print(f"{name:7} server CPU {cpu:.2f} s for {2 * n} requests: "
          f"{cpu / (2 * n) * 1000:.2f} ms per request")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    binary = shutil.which("nats-server")
    if binary is None:
        sys.exit("nats-server is not installed (scripts/install-test-tools.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        work, nats_port = Path(tmp), _free_port()
        nats = f"127.0.0.1:{nats_port}"
        procs: list[subprocess.Popen[bytes]] = [subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(work / "js")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            subprocess.run([sys.executable, "-m", "ocis_cli", "init", "--insecure", "true",
                            "--admin-password", PASSWORD], check=True, capture_output=True,
                           env=_env(work, nats, "local", _free_port()))
            port = _free_port()
            local = _start(["server"], _env(work, nats, "local", port), work / "local.log")
            procs.append(local)
            _wait_ready(f"http://127.0.0.1:{port}", local)
            _measure("local", f"http://127.0.0.1:{port}", [local], n)
            local.terminate()
            local.wait(30)
            provider = _start(["storage-users", "server"], _env(
                work, nats, "provider", _free_port(),
                STORAGE_USERS_HTTP_ADDR=f"127.0.0.1:{_free_port()}"), work / "provider.log")
            procs.append(provider)
            time.sleep(3)
            port = _free_port()
            front = _start(["server"], _env(work, nats, "front", port,
                                            OCIS_EXCLUDE_RUN_SERVICES="storage-users"),
                           work / "front.log")
            procs.append(front)
            _wait_ready(f"http://127.0.0.1:{port}", front)
            _measure("remote", f"http://127.0.0.1:{port}", [front, provider], n)
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(30)


if __name__ == "__main__":
    main()
