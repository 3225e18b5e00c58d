"""Real `ocis` processes on loopback ports for the scale-out tests and scripts/bench_scaleout.py:
storage providers (`ocis storage-users server`, each with its mount id and internal API
address), front nodes (`ocis server` with OCIS_EXCLUDE_RUN_SERVICES=storage-users) over a
`nats-server -js` (tests/kit/nats.py) for the registry and the events, and the single-process
default (`ocis server` alone, no NATS). All of them share one `ocis init` (one ocis.toml, as
machines of one instance do); each has its own data folder under the work dir. A process that
exits or is not ready in time fails the caller (pytest.fail). Every one of them is a `Node`, the
one way the tests start an `ocis` process of an instance (`make_node` for a node of its own)."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ocis_server.registry.natskv import NatsKvRegistry
from tests.conftest import ADMIN_PASSWORD, answers_200, free_port, server_env

from .nats import NatsServer

START = 60.0


def _wait(what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path,
          timeout: float = START) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready in {timeout:.0f} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def post(url: str, headers: dict[str, str], body: bytes = b'{"args":{}}') -> int:
    """POST to an internal API; its status (0 when nothing answers)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def home_listed(url: str, user: str = "einstein", password: str = "relativity") -> bool:
    """PROPFIND Depth 0 of the user's home answers 207: the node serves WebDAV."""
    request = urllib.request.Request(f"{url}/remote.php/dav/files/{user}/", method="PROPFIND",
                                     headers={"Depth": "0", "Authorization": "Basic " +
                                              base64.b64encode(f"{user}:{password}".encode())
                                              .decode()})
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return int(resp.status) == 207
    except (urllib.error.URLError, OSError):
        return False


def _popen(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ocis_cli", *args], env=env, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Node:
    """One `ocis` process of an instance (`ocis server` unless `args` says otherwise): its
    environment (server_env, so its public and runtime ports are in it), its work dir and its
    log <workdir>/<name>.log."""

    name: str
    env: dict[str, str]
    workdir: Path
    args: tuple[str, ...] = ("server",)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.env['PROXY_HTTP_ADDR']}"

    @property
    def runtime(self) -> str:
        return f"http://127.0.0.1:{self.env['OCIS_RUNTIME_PORT']}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, ready: Callable[[], bool] | None = None, timeout: float = START) -> None:
        """Start the process and wait until `ready` (default: the runtime's /readyz); one that
        exits or is not ready in time is killed and fails the test."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = _popen(list(self.args), self.env, self.workdir, self.log_path)
        try:
            _wait(f"node {self.name}", ready or (lambda: answers_200(f"{self.runtime}/readyz")),
                  self.proc,
                  self.log_path, timeout)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, sig)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def ocis(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `ocis` CLI with this node's environment, output captured."""
        return subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=self.env,
                              cwd=self.workdir, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)

    def init(self) -> None:
        """`ocis init` (admin's password ADMIN_PASSWORD) into this node's OCIS_CONFIG_DIR."""
        done = self.ocis("init", "--insecure", "true", "--admin-password", ADMIN_PASSWORD)
        assert done.returncode == 0, done.stderr

    def listed(self) -> list[dict[str, Any]]:
        """`ocis list -o json`: the services of the instance the registry knows."""
        result = self.ocis("list", "-o", "json")
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        assert isinstance(rows, list)
        return rows


def make_node(name: str, workdir: Path, extra: dict[str, str]) -> Node:
    """A node of its own: fresh public and runtime ports, its config and data under `workdir`
    (made here) unless `extra` points them elsewhere."""
    workdir.mkdir(parents=True, exist_ok=True)
    return Node(name, server_env(workdir, free_port(), free_port(), extra), workdir)


def registry_env(nats: NatsServer, ttl: float = 3, interval: float = 0.5, *,
                 events: bool = False) -> dict[str, str]:
    """The settings that put a node's services into the NATS registry (and its events on the
    same NATS with events=True); each node's provider API on any free port."""
    env = {"MICRO_REGISTRY": "nats-js-kv", "MICRO_REGISTRY_ADDRESS": nats.address,
           "EXPERIMENTAL_REGISTER_TTL": str(ttl), "EXPERIMENTAL_REGISTER_INTERVAL": str(interval),
           "STORAGE_USERS_HTTP_ADDR": "127.0.0.1:0"}
    if events:
        env["OCIS_EVENTS_ENDPOINT"] = nats.address
    return env


def front_and_back(workdir: Path, shared: dict[str, str], front_extra: dict[str, str],
                   back_extra: dict[str, str] | None = None) -> tuple[Node, Node]:
    """Two nodes of one instance, neither started: the front (`ocis init` done) runs everything
    but graph and ocdav; the back runs graph and ocdav and what they need, with the front's
    ocis.toml and public URL and a data folder of its own."""
    front = make_node("front", workdir / "front", shared | {
        "OCIS_EXCLUDE_RUN_SERVICES": "graph,ocdav", **front_extra})
    front.init()
    back = make_node("back", workdir / "back", shared | {
        "OCIS_RUN_SERVICES": "storage-users,users,graph,ocdav,proxy",
        "OCIS_CONFIG_DIR": front.env["OCIS_CONFIG_DIR"], "OCIS_URL": front.url,
        **(back_extra or {})})
    return front, back


def two_fronts(workdir: Path, shared: dict[str, str]) -> tuple[Node, Node]:
    """Two nodes of one instance, neither started: a runs everything (`ocis init` done), b the
    front services without storage-users (it finds a's provider in the registry), with a's
    ocis.toml and a data folder of its own."""
    a = make_node("a", workdir / "a", shared)
    a.init()
    b = make_node("b", workdir / "b", shared | {
        "OCIS_EXCLUDE_RUN_SERVICES": "storage-users", "OCIS_CONFIG_DIR": a.env["OCIS_CONFIG_DIR"]})
    return a, b


@dataclass
class Provider:
    role: str                        # its data folder's name
    mount_id: str = ""               # "" = the one `ocis init` wrote
    internal: str = ""               # its STORAGE_USERS_HTTP_ADDR as a URL
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Cluster:
    workdir: Path
    nats: NatsServer | None
    secret: str = ""
    url: str = ""                    # the first front's public URL
    providers: dict[str, Provider] = field(default_factory=dict)
    front: subprocess.Popen[bytes] | None = None      # the first front
    fronts: dict[str, tuple[str, subprocess.Popen[bytes]]] = field(default_factory=dict)
    fast_registry: bool = True       # renewals every 0.5 s (tests); False: the defaults

    @property
    def provider(self) -> subprocess.Popen[bytes] | None:
        return self.providers["provider"].proc

    @property
    def internal(self) -> str:
        return self.providers["provider"].internal

    def pids(self) -> list[int]:
        """Every running ocis process of the cluster (fronts and providers)."""
        procs = [p for _, p in self.fronts.values()] + [p.proc for p in self.providers.values()
                                                        if p.proc is not None]
        return [p.pid for p in procs if p.poll() is None]

    def env(self, role: str, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        nats = {} if self.nats is None else {
            "MICRO_REGISTRY": "nats-js-kv", "MICRO_REGISTRY_ADDRESS": self.nats.address,
            "OCIS_EVENTS_ENDPOINT": self.nats.address}
        if self.nats is not None and self.fast_registry:
            nats.update(EXPERIMENTAL_REGISTER_TTL="3", EXPERIMENTAL_REGISTER_INTERVAL="0.5")
        return server_env(self.workdir, port, free_port(), {
            **nats, "OCIS_LOG_LEVEL": "warn", "OCIS_BASE_DATA_PATH": str(self.workdir / role),
            **(extra or {})})

    def init(self, *mounts: str) -> None:
        """`ocis init` in the work dir; one provider per mount id ("" = init's own)."""
        env = self.env("front", free_port())
        done = subprocess.run([sys.executable, "-m", "ocis_cli", "init", "--insecure", "true",
                               "--admin-password", ADMIN_PASSWORD], env=env, cwd=self.workdir,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        config = tomllib.loads((self.workdir / "config" / "ocis.toml").read_text())
        self.secret = config["machine_auth_api_key"]
        first = config["storage_users"]["mount_id"]
        for i, mount in enumerate(mounts or ("",)):
            role = "provider" if i == 0 else f"provider{i}"
            self.providers[role] = Provider(role, mount or first,
                                            f"http://127.0.0.1:{free_port()}")

    def start_provider(self, role: str = "provider",
                       extra: dict[str, str] | None = None) -> None:
        provider = self.providers[role]
        env = self.env(role, free_port(), {
            "STORAGE_USERS_HTTP_ADDR": provider.internal.removeprefix("http://"),
            "STORAGE_USERS_MOUNT_ID": provider.mount_id, **(extra or {})})
        node = Node(role, env, self.workdir, ("storage-users", "server"))
        headers = {"X-Machine-Auth-Api-Key": self.secret}
        node.start(lambda: post(f"{provider.internal}/rpc/check", headers) == 200)
        provider.proc = node.proc
        assert node.proc is not None
        _wait(f"{role} in the registry", lambda: self._registered(provider.mount_id),
              node.proc, node.log_path)

    def _registered(self, mount_id: str) -> bool:
        assert self.nats is not None

        async def look(address: str) -> bool:
            registry = NatsKvRegistry(address)
            try:
                return any(e.name == "storage-users" and e.metadata.get("mount_id") == mount_id
                           for e in await registry.entries())
            finally:
                await registry.close()
        with ThreadPoolExecutor(1) as pool:     # callers may run inside an event loop
            return pool.submit(asyncio.run, look(self.nats.address)).result()

    def start_front(self, extra: dict[str, str] | None = None, name: str = "front",
                    storage: bool = False, *, wait: bool = True) -> str:
        """A front node (storage=True: `ocis server` with its own storage provider, as the
        single-process default); its public URL once einstein's home answers (wait=False: once
        it answers HTTP at all, e.g. before any provider is registered)."""
        env = self.env(name, free_port(), extra)
        if not storage:
            env["OCIS_EXCLUDE_RUN_SERVICES"] = "storage-users"
        node = Node(name, env, self.workdir)
        url = node.url
        node.start((lambda: home_listed(url)) if wait else
                   (lambda: post(f"{url}/status.php", {}, b"") in (200, 405)))
        assert node.proc is not None
        self.fronts[name] = (url, node.proc)
        if self.front is None:
            self.front, self.url = node.proc, url
        return url

    def stop(self) -> None:
        for _, proc in self.fronts.values():
            stop_process(proc)
        for provider in self.providers.values():
            stop_process(provider.proc)
        self.fronts.clear()
        self.front = None
