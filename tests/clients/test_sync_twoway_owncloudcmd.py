"""owncloudcmd 2.11 keeps a local folder and a server folder in step over repeated runs (issue 3).

The client talks to /remote.php/webdav/<folder> (or /remote.php/dav/files/<id>/ once the server
advertises dav.chunking) through a recording proxy; see sync_twoway.py for the scenarios.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from .helpers import Dav, require_tool, run
from .request_log import recording_proxy
from .sync_twoway import SCENARIOS, TwoWay, chunked_upload, tus_upload

pytestmark = pytest.mark.slow


@pytest.fixture
def owncloudcmd_twoway(real_server, tmp_path: Path,
                       request: pytest.FixtureRequest) -> Iterator[TwoWay]:
    binary = require_tool("owncloudcmd")
    # Debian's owncloud-client-cmd ships no system exclude list: without one it aborts (134).
    exclude = tmp_path / "exclude.lst"
    exclude.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    extra: dict[str, str] = {}
    with recording_proxy(real_server.url) as (url, log):
        def sync(local: Path, remote_dir: str) -> CompletedProcess[str]:
            return run([binary, "--non-interactive", "--exclude", str(exclude),
                        "-u", real_server.admin_user, "-p", real_server.admin_password,
                        str(local), f"{url}/remote.php/webdav/{remote_dir}"],
                       env={**env, **extra}, timeout=60)
        yield TwoWay(sync, Dav(real_server.url, *real_server.admin), log, tmp_path / "local",
                     f"occmd-{request.node.name[5:].replace('[', '-').rstrip(']')}", extra)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_owncloudcmd_two_way(owncloudcmd_twoway: TwoWay, scenario: str) -> None:
    SCENARIOS[scenario](owncloudcmd_twoway)


def test_owncloudcmd_chunked_upload(owncloudcmd_twoway: TwoWay) -> None:
    chunked_upload(owncloudcmd_twoway)


def test_owncloudcmd_uploads_over_tus(owncloudcmd_twoway: TwoWay) -> None:
    tus_upload(owncloudcmd_twoway)
