"""The server as an operator runs it: `ocis health` while it runs, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_health_is_green_while_running_and_server_stops_cleanly(real_server_factory,
                                                                tmp_path: Path) -> None:
    with real_server_factory(tmp_path / "srv") as server:
        health = server.ocis("health")
        assert health.returncode == 0, f"{health.stdout}\n{health.stderr}\n{server.log_tail()}"
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"server still running 15 s after SIGTERM:\n{server.log_tail()}")
        assert code == 0, f"exit {code} after SIGTERM:\n{server.log_tail()}"


def test_health_fails_when_no_server_runs(tmp_path: Path) -> None:
    with socket.socket() as sock:          # bound but not listening: connection refused
        sock.bind(("127.0.0.1", 0))
        env = {**os.environ, "OCIS_RUNTIME_PORT": str(sock.getsockname()[1]),
               "OCIS_CONFIG_DIR": str(tmp_path / "config"), "OCIS_BASE_DATA_PATH": str(tmp_path),
               "PYTHONPATH": str(REPO_ROOT)}
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", "health"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
