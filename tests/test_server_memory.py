"""The resident memory of a real `ocis server` (issue 18, memory): what a server that nobody has
asked for a thumbnail, an LDAP bind or PostgreSQL never loads, and what it costs after start.

`ocis server` starts the runtime without the typer app (ocis_cli/launch.py); Pillow loads with the
first thumbnail (thumbnails/pillow.py), the LDAP codec with the first LDAP connection
(idm/connection.py), psycopg only with OCIS_DATABASE_URL, `ocis init`'s tomlkit and cryptography
only for `ocis init`; the IdP's keys, clients and authlib server with the IdP's first request, and
joserfc + cryptography with the first key or bearer token (auth/keys.py, auth/oidc.py,
services/idp/app.py). Compiled extensions show in /proc/PID/maps once imported, so the test reads
them from there, as an operator would; pure-Python packages from `python -X importtime`'s report
(PYTHONPROFILEIMPORTTIME=1), which the server writes to its log as it imports.
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
# cryptography for `ocis init` all loaded), 73 with joserfc, cryptography and authlib still loaded
# at start, and is at about 65 now (peak incl. the start itself and its one scrypt hash).
IDLE_PEAK_MIB = 75
NEVER_LOADED_IDLE = ("pydantic_core", "/PIL/", "psycopg_binary", "/cryptography/")
NEVER_IMPORTED_IDLE = ("joserfc", "cryptography", "authlib", "ldap3", "PIL", "psycopg", "typer")


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _imported(log: str) -> set[str]:
    """Top-level packages in `-X importtime`'s report ("import time: self | cumulative | name")."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in log.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def _peak_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def test_idle_server_loads_no_cli_pillow_or_postgres_until_asked(
        tmp_path: Path, real_server_factory: Callable[..., Any]) -> None:
    with real_server_factory(tmp_path / "srv", {"PYTHONPROFILEIMPORTTIME": "1"}) as srv:
        pid = srv.process.pid
        maps = _mapped(pid)
        loaded = [name for name in NEVER_LOADED_IDLE if name in maps]
        assert loaded == [], f"loaded by an idle server: {loaded}"
        imported = _imported(srv.log_path.read_text())
        assert "aiohttp" in imported and "ocis_server" in imported     # the report is there
        assert sorted(imported & set(NEVER_IMPORTED_IDLE)) == []
        peak = _peak_mib(pid)
        assert peak <= IDLE_PEAK_MIB, f"peak RSS after start {peak} MiB"
        key_file = srv.workdir / "data" / "idp" / "private-key.pem"
        assert not key_file.exists()                 # the IdP's first key: with its first use

        bearer = requests.get(f"{srv.url}/graph/v1.0/me", headers={"Authorization": "Bearer a.b.c"},
                              timeout=30)
        assert bearer.status_code == 401
        assert "joserfc" in _imported(srv.log_path.read_text())
        jwks = requests.get(f"{srv.url}/konnect/v1/jwks.json", timeout=30)
        assert jwks.status_code == 200 and jwks.json()["keys"][0]["kty"] == "RSA"
        assert key_file.exists() and "/cryptography/" in _mapped(pid)
        assert {"authlib", "cryptography"} <= _imported(srv.log_path.read_text())

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
