"""The resident memory of a real `ocis server` (issue 18, memory): what a server that nobody has
asked for a thumbnail, an LDAP bind or PostgreSQL never loads, and what it costs after start.

`ocis server` starts the runtime without the typer app (ocis_cli/launch.py); Pillow loads with the
first thumbnail (thumbnails/pillow.py), the LDAP codec with the first LDAP connection
(idm/connection.py), psycopg only with OCIS_DATABASE_URL, `ocis init`'s tomlkit and cryptography
only for `ocis init`. Compiled extensions show in /proc/PID/maps once imported, so the test reads
them from there, as an operator would.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from ocis_cli.exitcodes import ExitCode

REPO_ROOT = Path(__file__).resolve().parent.parent
# After start the server was at 97 MiB before these cuts (typer, Pillow, ldap3, psycopg and
# cryptography for `ocis init` all loaded) and is at about 73 now (peak incl. the start itself).
IDLE_PEAK_MIB = 85
NEVER_LOADED_IDLE = ("pydantic_core", "/PIL/", "psycopg_binary")


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _peak_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def test_idle_server_loads_no_cli_pillow_or_postgres_until_asked(
        tmp_path: Path, real_server_factory: Callable[..., Any]) -> None:
    with real_server_factory(tmp_path / "srv") as srv:
        pid = srv.process.pid
        maps = _mapped(pid)
        loaded = [name for name in NEVER_LOADED_IDLE if name in maps]
        assert loaded == [], f"loaded by an idle server: {loaded}"
        peak = _peak_mib(pid)
        assert peak <= IDLE_PEAK_MIB, f"peak RSS after start {peak} MiB"

        buf = io.BytesIO()
        Image.new("RGB", (300, 200), "red").save(buf, "PNG")
        url = f"{srv.url}/remote.php/webdav/pic.png"
        assert requests.put(url, data=buf.getvalue(), auth=srv.admin, timeout=30).status_code == 201
        thumb = requests.get(url, params={"preview": "1", "x": "32", "y": "32"}, auth=srv.admin,
                             timeout=30)
        assert thumb.status_code == 200, thumb.text
        assert Image.open(io.BytesIO(thumb.content)).size[0] <= 32
        assert "/PIL/" in _mapped(pid)          # loaded on demand, in the same process


def test_server_without_config_exits_not_initialised(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIS_")}
    env.update(OCIS_CONFIG_DIR=str(tmp_path / "config"), OCIS_BASE_DATA_PATH=str(tmp_path / "data"),
               PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-m", "ocis_cli", "server"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          check=False)
    assert proc.returncode == ExitCode.NOT_INITIALISED, proc.stderr
    assert proc.stderr.startswith("error: ") and "ocis init" in proc.stderr, proc.stderr
