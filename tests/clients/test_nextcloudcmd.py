"""nextcloudcmd 3.7 (the Nextcloud desktop sync engine) against the real server, both directions."""

from __future__ import annotations

import os
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from .helpers import Dav, require_tool, run
from .sync_scenario import SyncRun, sync_down, sync_up

pytestmark = pytest.mark.slow


@pytest.fixture
def nextcloudcmd(real_server, tmp_path: Path) -> SyncRun:
    binary = require_tool("nextcloudcmd")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}

    def sync(local: Path, remote_dir: str) -> CompletedProcess[str]:
        # nextcloudcmd always talks /remote.php/dav/files/<id>/; --path picks the remote folder.
        return run([binary, "--non-interactive", "-u", real_server.admin_user,
                    "-p", real_server.admin_password, "--path", f"/{remote_dir}",
                    str(local), real_server.url], env=env)
    return sync


def test_nextcloudcmd_first_sync_up_then_noop(nextcloudcmd: SyncRun, real_server, tmp_path: Path) -> None:
    sync_up(nextcloudcmd, Dav(real_server.url, *real_server.admin), tmp_path / "up", "nccmd-up")


def test_nextcloudcmd_first_sync_down_then_noop(nextcloudcmd: SyncRun, real_server, tmp_path: Path) -> None:
    sync_down(nextcloudcmd, Dav(real_server.url, *real_server.admin), tmp_path / "down", "nccmd-down")
