"""Shared fixtures: free loopback ports and a real server (`ocis init` + `ocis server`) in a subprocess.

`real_server` is session-scoped: the real-client tests share one server and use distinct folders.
Tests that need a server of their own use `real_server_factory(workdir)` (a context manager).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """`free_port()` inside a test: a fresh unused loopback port per call."""
    return free_port


@dataclass
class RealServer:
    """A running `ocis server` subprocess and what a client needs to talk to it."""

    url: str                      # public base URL, no trailing slash
    port: int
    runtime_port: int
    env: dict[str, str]           # the environment the server runs with (reuse for `ocis health`...)
    log_path: Path                # server stdout + stderr
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    admin_user: str = ADMIN_USER
    admin_password: str = ADMIN_PASSWORD

    @property
    def admin(self) -> tuple[str, str]:
        return (self.admin_user, self.admin_password)

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def ocis(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the `ocis` CLI against this server (same environment), capturing output."""
        return subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=self.env,
                              cwd=self.workdir, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def server_env(workdir: Path, port: int, runtime_port: int,
               extra: dict[str, str] | None = None) -> dict[str, str]:
    """A hermetic environment: no OCIS_/PROXY_ variable of the caller leaks into the server."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OCIS_", "PROXY_", "IDM_", "STORAGE_", "GRAPH_", "FRONTEND_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "OCIS_CONFIG_DIR": str(workdir / "config"),
        "OCIS_BASE_DATA_PATH": str(workdir / "data"),
        "OCIS_URL": f"http://127.0.0.1:{port}",
        "OCIS_INSECURE": "true",
        "PROXY_HTTP_ADDR": f"127.0.0.1:{port}",
        "PROXY_ENABLE_BASIC_AUTH": "true",
        "OCIS_RUNTIME_PORT": str(runtime_port),
        "IDM_LDAPS_ADDR": "127.0.0.1:0",
        "IDM_CREATE_DEMO_USERS": "true",
        # one process: the tests read one process's state (its pid, its log, its children);
        # tests/test_workers.py runs several explicitly
        "OCIS_WORKERS": "1",
        "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
        "XDG_DATA_HOME": str(workdir / "xdg-data"),
        "XDG_CACHE_HOME": str(workdir / "xdg-cache"),
    })
    env.update(extra or {})
    return env


def answers_200(url: str) -> bool:
    """GET `url` answers 200 (False while nothing or something else answers)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _status_ok(url: str) -> bool:
    return answers_200(f"{url}/status.php")


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    return proc.returncode


@contextlib.contextmanager
def launch_real_server(workdir: Path, extra_env: dict[str, str] | None = None, *,
                       preexec_fn: Callable[[], None] | None = None) -> Iterator[RealServer]:
    """`ocis init` then `ocis server` in `workdir`; yields once GET /status.php answers 200.
    `preexec_fn` runs in the server's process before it starts (e.g. to set `ulimit -n`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, runtime_port = free_port(), free_port()
    env = server_env(workdir, port, runtime_port, extra_env)
    init = subprocess.run(
        [sys.executable, "-m", "ocis_cli", "init", "--insecure", "true",
         "--admin-password", ADMIN_PASSWORD],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False)
    (workdir / "init.log").write_text(init.stdout + init.stderr)
    if init.returncode != 0:
        pytest.fail(f"`ocis init` exited {init.returncode}:\n{init.stdout}\n{init.stderr}"[-4000:])
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=env, cwd=workdir,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=preexec_fn)
    server = RealServer(url=f"http://127.0.0.1:{port}", port=port, runtime_port=runtime_port,
                        env=env, log_path=log_path, workdir=workdir, process=proc)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _status_ok(server.url):
            if proc.poll() is not None:
                pytest.fail(f"`ocis server` died with exit code {proc.returncode}:\n"
                            f"{server.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"`ocis server` not answering GET /status.php after {START_TIMEOUT:.0f} s:\n"
                            f"{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """One real server for the whole session, admin/admin, demo users, HTTP Basic enabled."""
    with launch_real_server(tmp_path_factory.mktemp("real-server")) as server:
        yield server


@pytest.fixture
def real_server_factory() -> Callable[..., contextlib.AbstractContextManager[RealServer]]:
    """`with real_server_factory(tmp_path / "srv", extra_env) as server:` a private real server."""
    return launch_real_server


@pytest.fixture(scope="session")
def event_loop_policy():
    """OCIS_EVENT_LOOP=uvloop runs the in-process tests on uvloop, as `ocis server` does."""
    import asyncio
    if os.environ.get("OCIS_EVENT_LOOP", "").strip().lower() == "uvloop":
        import uvloop
        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()
