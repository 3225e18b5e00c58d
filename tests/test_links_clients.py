"""A real WebDAV client on a public link: rclone (webdav backend, user `public`, the link password)
copies a tree into an edit link, lists and reads it back, and is refused on a view link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from clients.helpers import debian_rclone, run
from conftest import RealServer

pytestmark = pytest.mark.slow
SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
EINSTEIN = ("einstein", "relativity")


def make_link(server: RealServer, folder: str, **fields: str) -> str:
    dav = f"{server.url}/remote.php/webdav/{folder}"
    assert requests.request("MKCOL", dav, auth=EINSTEIN, timeout=10).status_code in (201, 405)
    resp = requests.post(f"{server.url}{SHARES}", params={"format": "json"}, auth=EINSTEIN,
                         data={"shareType": "3", "path": f"/{folder}", **fields},
                         headers={"OCS-APIREQUEST": "true"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["ocs"]["data"]["token"])


def rclone_env(server: RealServer, token: str, password: str, tmp: Path) -> dict[str, str]:
    obscured = run([debian_rclone(), "obscure", password]).stdout.strip()
    (tmp / "rclone.conf").write_text("")
    return {**os.environ, "RCLONE_CONFIG": str(tmp / "rclone.conf"),
            "RCLONE_CONFIG_PL_TYPE": "webdav",
            "RCLONE_CONFIG_PL_URL": f"{server.url}/remote.php/dav/public-files/{token}/",
            "RCLONE_CONFIG_PL_VENDOR": "owncloud", "RCLONE_CONFIG_PL_USER": "public",
            "RCLONE_CONFIG_PL_PASS": obscured}


def test_rclone_copies_into_an_edit_link(real_server: RealServer, tmp_path: Path) -> None:
    rclone = debian_rclone()
    token = make_link(real_server, "rclone-link", permissions="15", password="Secret123!")
    env = rclone_env(real_server, token, "Secret123!", tmp_path)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub" / "b.bin").write_bytes(os.urandom(70_000))
    proc = run([rclone, "copy", str(src), "pl:"], env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    listing = run([rclone, "lsf", "-R", "pl:"], env=env)
    assert sorted(listing.stdout.split()) == ["a.txt", "sub/", "sub/b.bin"]
    check = run([rclone, "check", str(src), "pl:"], env=env)
    assert check.returncode == 0, check.stderr[-3000:]
    own = requests.get(f"{real_server.url}/remote.php/webdav/rclone-link/a.txt", auth=EINSTEIN,
                       timeout=10)
    assert own.content == b"alpha"
    wrong = rclone_env(real_server, token, "not-it", tmp_path)
    assert run([rclone, "lsf", "pl:"], env=wrong).returncode != 0


def test_rclone_is_refused_on_a_view_link(real_server: RealServer, tmp_path: Path) -> None:
    rclone = debian_rclone()
    token = make_link(real_server, "rclone-view", permissions="1", password="View1234!")
    env = rclone_env(real_server, token, "View1234!", tmp_path)
    local = tmp_path / "x.txt"
    local.write_bytes(b"x")
    assert run([rclone, "lsf", "pl:"], env=env).returncode == 0
    proc = run([rclone, "copyto", str(local), "pl:x.txt", "--retries", "1",
                "--low-level-retries", "1"], env=env)
    assert proc.returncode != 0
