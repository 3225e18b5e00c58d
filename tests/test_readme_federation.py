"""The README's "Federation in five minutes" runs as written: the block is taken from README.md
and run by bash (only its two ports are swapped for free ones, and the virtualenv it activates is
this one), from `ocis init` of two instances to owncloudcmd syncing the remote space both ways."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def block() -> str:
    text = README.read_text()
    section = text[text.index("## Federation in five minutes"):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None, "no ```sh block in the federation section"
    return match.group(1)


def free_base_port() -> int:
    """A port p with p, p+35 and p+50 free (the instance's proxy, LDAPS and runtime ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 50 > 65535:
            continue
        try:
            for p in (port, port + 35, port + 50):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise AssertionError("no free ports")


@pytest.mark.slow
def test_federation_in_five_minutes(tmp_path: Path) -> None:
    zurich, paris = free_base_port(), free_base_port()
    while abs(zurich - paris) <= 50:
        paris = free_base_port()
    script = block().replace("9200", str(zurich)).replace("9300", str(paris))
    script = script.replace(". .venv/bin/activate", f". {Path(sys.executable).parent}/activate")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OCIS_", "OCM_", "PROXY_", "IDM_"))}
    env["HOME"] = str(tmp_path)
    env["OCIS_WORKERS"] = "1"      # two instances, not four workers, on the CI's two cores
    proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)      # servers left running by a failed step
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
    assert "einstein@zurich.test" in out and "federated" in out
    assert "E=mc2" in out
    assert (tmp_path / "Physics-sync" / "a.txt").read_text() == "E=mc2\n"
    # the last command lists zurich's folder: Marie's file landed there
    assert out.rstrip().splitlines()[-2:] == ["a.txt", "marie.txt"], out[-2000:]
