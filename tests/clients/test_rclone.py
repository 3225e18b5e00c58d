"""rclone 1.60 (webdav backend, vendors owncloud and nextcloud) against the real server: sync,
verified checks, a no-op second sync, a server-side change detected."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .helpers import TREE, Dav, debian_rclone, describe, run, write_tree

pytestmark = pytest.mark.slow
REMOTE_DIR = "rclone-sync"


def rclone_env(server_url: str, user: str, password: str, tmp: Path,
               vendor: str = "owncloud", dav_path: str = "/remote.php/webdav/") -> dict[str, str]:
    """Remote `oc:` configured through the environment only (client-notes.md §4)."""
    rclone = debian_rclone()
    obscured = run([rclone, "obscure", password]).stdout.strip()
    (tmp / "rclone.conf").write_text("")
    return {**os.environ,
            "RCLONE_CONFIG": str(tmp / "rclone.conf"),
            "RCLONE_CONFIG_OC_TYPE": "webdav",
            "RCLONE_CONFIG_OC_URL": f"{server_url}{dav_path}",
            "RCLONE_CONFIG_OC_VENDOR": vendor,
            "RCLONE_CONFIG_OC_USER": user,
            "RCLONE_CONFIG_OC_PASS": obscured}


def final_stats(stderr: str) -> dict[str, object]:
    """The closing accounting record of a `--use-json-log` run."""
    stats = [json.loads(line)["stats"] for line in stderr.splitlines()
             if line.startswith("{") and '"stats"' in line]
    assert stats, f"no stats record in rclone output:\n{stderr[-3000:]}"
    return stats[-1]


# vendor=owncloud: MD5+SHA1, streaming PUT (chunked transfer-encoding) on the old WebDAV path;
# vendor=nextcloud: SHA1 only, on the new path.
@pytest.mark.parametrize("vendor,dav_path", [("owncloud", "/remote.php/webdav/"),
                                             ("nextcloud", "/remote.php/dav/files/admin/")])
def test_rclone_sync_check_and_noop_resync(real_server, tmp_path: Path, vendor: str,
                                           dav_path: str) -> None:
    rclone = debian_rclone()
    env = rclone_env(real_server.url, real_server.admin_user, real_server.admin_password, tmp_path,
                     vendor, dav_path)
    src = tmp_path / "src"
    write_tree(src)
    dav = Dav(real_server.url, *real_server.admin)
    remote_dir = f"{REMOTE_DIR}-{vendor}"
    remote = f"oc:{remote_dir}"

    first = run([rclone, "sync", str(src), remote, "-v", "--use-json-log"], env=env)
    assert first.returncode == 0, describe(first)
    assert final_stats(first.stderr)["transfers"] == len(TREE)
    assert dav.walk(f"{dav_path}{remote_dir}") == dict(sorted(TREE.items()))

    check = run([rclone, "check", str(src), remote], env=env)
    assert check.returncode == 0, describe(check)
    assert "0 differences found" in check.stderr, describe(check)
    assert f"{len(TREE)} matching files" in check.stderr, describe(check)
    # rclone only says this when the server sent no usable oc:checksums: then nothing was verified.
    assert "could not be checked" not in check.stderr, describe(check)

    # The server kept X-OC-Mtime and reports the same checksums: nothing to transfer again.
    second = run([rclone, "sync", str(src), remote, "-v", "--use-json-log"], env=env)
    assert second.returncode == 0, describe(second)
    stats = final_stats(second.stderr)
    assert stats["transfers"] == 0, describe(second)
    assert "Copied" not in second.stderr, describe(second)

    download = run([rclone, "check", "--download", str(src), remote], env=env)
    assert download.returncode == 0, describe(download)
    assert "0 differences found" in download.stderr, describe(download)


def test_rclone_check_detects_a_file_changed_on_the_server(real_server, tmp_path: Path) -> None:
    """Same size, other bytes: only a real checksum comparison can notice."""
    rclone = debian_rclone()
    env = rclone_env(real_server.url, real_server.admin_user, real_server.admin_password, tmp_path)
    src = tmp_path / "src"
    write_tree(src)
    remote = f"oc:{REMOTE_DIR}-changed"
    first = run([rclone, "sync", str(src), remote], env=env)
    assert first.returncode == 0, describe(first)

    original = TREE["hello.txt"]
    Dav(real_server.url, *real_server.admin).put(
        f"/remote.php/webdav/{REMOTE_DIR}-changed/hello.txt", original.upper())
    check = run([rclone, "check", str(src), remote], env=env)
    assert check.returncode != 0, describe(check)
    assert "1 differences found" in check.stderr, describe(check)
    assert "hello.txt" in check.stderr, describe(check)
