"""A throw-away `nats-server -js` for the scale-out tests: on a free loopback port with its own
JetStream store in a temp dir, stopped (and restartable on the same port and store, as a NATS
restart in production) by the test. A missing nats-server FAILS (docs/decisions/0000-record.md):
`scripts/install-test-tools.sh` installs Debian's package."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .tools import require_tool

START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    """The server sent its INFO line: it accepts clients (JetStream is ready by then)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            return sock.recv(5) == b"INFO "
    except OSError:
        return False


@dataclass
class NatsServer:
    store: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """host:port, as OCIS_EVENTS_ENDPOINT and MICRO_REGISTRY_ADDRESS take it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"nats://{self.address}"

    def start(self) -> None:
        binary = require_tool("nats-server")
        self.store.mkdir(parents=True, exist_ok=True)
        log = (self.store / "nats.log").open("ab")
        self.proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store / "js")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.port):
            if self.proc.poll() is not None:
                pytest.fail(f"nats-server exited {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"nats-server not answering on {self.address}: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGKILL: as a crash); `start()` brings it back on the same port and store."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_tail(self, limit: int = 3000) -> str:
        path = self.store / "nats.log"
        return path.read_text(errors="replace")[-limit:] if path.exists() else ""


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A running `nats-server -js` of this test alone (port and store of its own)."""
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()
