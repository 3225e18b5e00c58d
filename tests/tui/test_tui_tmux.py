"""Smoke test of the real `ocis tui` in a real terminal: tmux runs it against a server subprocess;
keys go in with `send-keys`, the screen comes back with `capture-pane`."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tmux]


class Tmux:
    """One private tmux server (its own socket), killed at the end: nothing else is touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=20, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{shown}")
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        """Type like a person: one key at a time (a burst could read as one escape sequence)."""
        for key in keys:
            self.run("send-keys", "-t", "tui", key)
            time.sleep(0.3)


def test_ocis_tui_in_tmux(real_server: Any, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: scripts/install-test-tools.sh installs it")
    env = {**real_server.env, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "OCIS_PASSWORD": "relativity",
           "TERM": "xterm-256color"}

    def ocis(*args: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    folder = f"tmux-{uuid.uuid4().hex[:8]}"
    ocis("login", real_server.url, "--user", "einstein", "--password-from-env")
    ocis("mkdir", f"/{folder}")
    tmux = Tmux(f"ocis-tui-test-{uuid.uuid4().hex[:8]}")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                       if k.startswith(("XDG_", "PYTHON", "OCIS_", "PATH", "HOME", "TERM")))
    command = (f"env {exports} {shlex.quote(sys.executable)} -m ocis_cli tui; "
               f"echo TUI-EXIT=$?; sleep 60")
    tmux.run("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command)
    try:
        shown = tmux.wait_for(folder)
        assert "einstein@127.0.0.1" in shown
        assert "Personal" in shown
        tmux.keys("?")
        tmux.wait_for("Filter as you type")
        tmux.keys("Escape")
        # A lone ESC is told from the start of an escape sequence by a pause: wait for it.
        deadline = time.monotonic() + 10
        while "Filter as you type" in tmux.screen():
            assert time.monotonic() < deadline, "Esc did not close the help"
            time.sleep(0.2)
        # The shared server's home holds other tests' folders too: filter to ours, then open it.
        tmux.keys("Tab", "/")
        tmux.run("send-keys", "-t", "tui", "-l", folder)
        time.sleep(0.3)
        tmux.keys("Enter", "l")
        tmux.wait_for(f":/{folder}")
        # Upload by typing the start of a local path and completing it with Tab: only the
        # completed path names a file, so the upload shows that Tab worked.
        name = f"upload-{uuid.uuid4().hex[:8]}.txt"
        (tmp_path / name).write_bytes(b"typed, then completed")
        tmux.keys("u")
        tmux.wait_for("Tab: complete")
        tmux.keys("C-u")
        tmux.run("send-keys", "-t", "tui", "-l", f"{tmp_path}/upload-")
        time.sleep(0.3)
        tmux.keys("Tab")
        tmux.wait_for(name[-12:])
        tmux.keys("Enter")
        tmux.wait_for(f"uploaded {name}")
        tmux.keys("q")
        tmux.wait_for("TUI-EXIT=0")
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True,
                       timeout=20, check=False)
