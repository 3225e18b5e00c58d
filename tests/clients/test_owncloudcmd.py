"""owncloudcmd 2.11 (the ownCloud desktop sync engine) against the real server, both directions."""

from __future__ import annotations

import os
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from .helpers import Dav, require_tool, run
from .sync_scenario import SyncRun, sync_down, sync_up

pytestmark = pytest.mark.slow


@pytest.fixture
def owncloudcmd(real_server, tmp_path: Path) -> SyncRun:
    binary = require_tool("owncloudcmd")
    # Debian's owncloud-client-cmd ships no system exclude list: without one it aborts (134).
    exclude = tmp_path / "exclude.lst"
    exclude.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}

    def sync(local: Path, remote_dir: str) -> CompletedProcess[str]:
        return run([binary, "--non-interactive", "--exclude", str(exclude),
                    "-u", real_server.admin_user, "-p", real_server.admin_password,
                    str(local), f"{real_server.url}/remote.php/webdav/{remote_dir}"], env=env)
    return sync


def test_owncloudcmd_first_sync_up_then_noop(owncloudcmd: SyncRun, real_server, tmp_path: Path) -> None:
    sync_up(owncloudcmd, Dav(real_server.url, *real_server.admin), tmp_path / "up", "occmd-up")


def test_owncloudcmd_first_sync_down_then_noop(owncloudcmd: SyncRun, real_server, tmp_path: Path) -> None:
    sync_down(owncloudcmd, Dav(real_server.url, *real_server.admin), tmp_path / "down", "occmd-down")
