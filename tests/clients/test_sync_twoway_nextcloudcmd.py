"""nextcloudcmd 3.7 keeps a local folder and a server folder in step over repeated runs (issue 3).

nextcloudcmd always talks /remote.php/dav/files/<id>/ (`--path` picks the folder), through a
recording proxy; see sync_twoway.py for the scenarios.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from .helpers import Dav, require_tool, run
from .request_log import recording_proxy
from .sync_twoway import SCENARIOS, TwoWay, chunked_upload

pytestmark = pytest.mark.slow


@pytest.fixture
def nextcloudcmd_twoway(real_server, tmp_path: Path,
                        request: pytest.FixtureRequest) -> Iterator[TwoWay]:
    binary = require_tool("nextcloudcmd")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    extra: dict[str, str] = {}
    with recording_proxy(real_server.url) as (url, log):
        def sync(local: Path, remote_dir: str) -> CompletedProcess[str]:
            return run([binary, "--non-interactive", "-u", real_server.admin_user,
                        "-p", real_server.admin_password, "--path", f"/{remote_dir}",
                        str(local), url], env={**env, **extra}, timeout=60)
        yield TwoWay(sync, Dav(real_server.url, *real_server.admin), log, tmp_path / "local",
                     f"nccmd-{request.node.name[5:].replace('[', '-').rstrip(']')}", extra)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nextcloudcmd_two_way(nextcloudcmd_twoway: TwoWay, scenario: str) -> None:
    SCENARIOS[scenario](nextcloudcmd_twoway)


def test_nextcloudcmd_chunked_upload(nextcloudcmd_twoway: TwoWay) -> None:
    chunked_upload(nextcloudcmd_twoway)
