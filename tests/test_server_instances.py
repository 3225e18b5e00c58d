"""Two `make serve`-style instances on one machine: `ocis init` and `ocis server` in separate
directories with only the HTTP port given. Their runtime and LDAPS ports must not collide, each
announces its listeners and "ready", and `ocis health` / `ocis list` name the instance they reached.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, STOP_TIMEOUT, _stop, free_port, server_env

pytestmark = pytest.mark.slow


@dataclass
class Instance:
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]

    def ocis(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _make_serve_env(workdir: Path, port: int) -> dict[str, str]:
    """What `make serve PORT=<port>` exports: no runtime or LDAPS port."""
    env = server_env(workdir, port, 0)
    for key in ("OCIS_RUNTIME_PORT", "IDM_LDAPS_ADDR"):
        env.pop(key)
    env["IDM_CREATE_DEMO_USERS"] = "false"
    return env


@contextlib.contextmanager
def make_serve(workdir: Path, port: int) -> Iterator[Instance]:
    workdir.mkdir(parents=True)
    env = _make_serve_env(workdir, port)
    init = subprocess.run([sys.executable, "-m", "ocis_cli", "init", "--insecure", "true",
                           "--admin-password", ADMIN_PASSWORD], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert init.returncode == 0, init.stdout + init.stderr
    log = workdir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=env, cwd=workdir,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    instance = Instance(port, env, log, proc)
    try:
        deadline = time.monotonic() + 40
        while "ready:" not in instance.text():
            assert proc.poll() is None, f"server exited {proc.returncode}:\n{instance.text()}"
            assert time.monotonic() < deadline, f"no ready line:\n{instance.text()}"
            time.sleep(0.1)
        yield instance
    finally:
        _stop(proc)


def _listening(text: str, what: str) -> list[str]:
    return re.findall(rf"ocis\.server: {re.escape(what)} listening on (\S+)", text)


def test_two_instances_side_by_side_with_only_the_http_port(tmp_path: Path) -> None:
    port_a = free_port()
    port_b = free_port()
    # B's derived runtime port (HTTP + 50) is held by someone else: B must take a free one.
    with socket.socket() as squatter:
        try:
            squatter.bind(("127.0.0.1", port_b + 50))
        except OSError:
            pytest.fail(f"port {port_b + 50} busy before the test could hold it")
        squatter.listen()
        with make_serve(tmp_path / "a", port_a) as a, make_serve(tmp_path / "b", port_b) as b:
            runtime: dict[str, str] = {}
            for inst, name in ((a, "a"), (b, "b")):
                text = inst.text()
                assert _listening(text, "proxy") == [f"http://127.0.0.1:{inst.port}"], text
                assert len(_listening(text, "idm")) == 1, text
                assert len(_listening(text, "runtime")) == 1, text
                assert len(re.findall(r"ocis\.server: ready: ", text)) == 1, text
                assert f"config {tmp_path / name / 'config'}" in text
                runtime[name] = _listening(text, "runtime")[0]
            # A (nothing in the way) follows its HTTP port, oCIS's default distances: +50, +35.
            assert runtime["a"] == f"http://127.0.0.1:{port_a + 50}"
            assert _listening(a.text(), "idm") == [f"ldaps://127.0.0.1:{port_a + 35}"]
            assert runtime["b"] != f"http://127.0.0.1:{port_b + 50}"      # the squatter's
            assert _listening(a.text(), "idm") != _listening(b.text(), "idm")

            for inst, name in ((a, "a"), (b, "b")):
                health = inst.ocis("health")
                assert health.returncode == 0, health.stdout + health.stderr
                assert health.stdout.startswith("healthy: ocis at "), health.stdout
                assert f"http://127.0.0.1:{inst.port}" in health.stdout
                assert str(tmp_path / name / "config") in health.stdout
                assert runtime[name].removeprefix("http://") in health.stdout
                as_json = json.loads(inst.ocis("health", "-o", "json").stdout)
                assert as_json["healthy"] is True
                assert as_json["instance"]["url"] == f"http://127.0.0.1:{inst.port}"
                listed = inst.ocis("list")
                assert listed.returncode == 0, listed.stderr
                assert "proxy\tready" in listed.stdout
                assert f"ocis at http://127.0.0.1:{inst.port}" in listed.stderr

            b.process.send_signal(signal.SIGTERM)
            assert b.process.wait(timeout=STOP_TIMEOUT) == 0, b.text()
            assert len(re.findall(r"ocis\.server: stopped \(signal\)", b.text())) == 1, b.text()
            assert not (tmp_path / "b" / "config" / "runtime.json").exists()
            gone = b.ocis("health")
            assert gone.returncode != 0 and "Traceback" not in gone.stderr
            assert a.ocis("health").returncode == 0
