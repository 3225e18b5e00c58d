"""ownCloud Web's own API client (@ownclouders/web-client 12, from the npm registry) against a real
server: role definitions, invite, permissions, links, sharedWithMe/sharedByMe built into Web's
share resources, the share jail in me/drives, unmount/mount/hide (webclient_sharing_probe.mjs).
Also runs ../shared/tools/webclient_probe.mjs, the team's basic probe (capabilities, me, drives)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import RealServer, launch_real_server

from .helpers import describe, require_tool, run, shared_dir

pytestmark = pytest.mark.slow

PACKAGES = ("@ownclouders/web-client@12", "axios@1")
PROBE = Path(__file__).with_name("webclient_sharing_probe.mjs")


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding web-client and axios (npm's own cache makes a re-run cheap)."""
    require_tool("node")
    npm = require_tool("npm")
    folder = tmp_path_factory.mktemp("webclient")
    (folder / "package.json").write_text('{"name": "probe", "private": true, "type": "module"}\n')
    proc = run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
               cwd=folder, env={**os.environ, "npm_config_update_notifier": "false"}, timeout=300)
    assert proc.returncode == 0, describe(proc)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("webclient-srv")) as srv:
        yield srv


def _node(folder: Path, script: Path, *args: str) -> tuple[str, str]:
    target = folder / script.name        # resolve the packages from the install folder
    target.write_text(script.read_text())
    proc = run(["node", str(target), *args], cwd=folder, timeout=120)
    return proc.stdout, describe(proc)


def test_basic_probe(node_modules: Path, server: RealServer) -> None:
    out, details = _node(node_modules, shared_dir() / "tools" / "webclient_probe.mjs",
                         server.url, "einstein", "relativity")
    assert "ERR" not in out and out.count("OK") == 4, details + server.log_tail()


def test_sharing_probe(node_modules: Path, server: RealServer) -> None:
    s = requests.Session()
    s.auth = ("einstein", "relativity")
    assert s.request("MKCOL", f"{server.url}/remote.php/webdav/probe").status_code == 201
    assert s.put(f"{server.url}/remote.php/webdav/probe/a.txt", data=b"a").status_code == 201
    found = s.request("PROPFIND", f"{server.url}/remote.php/webdav/probe", headers={"Depth": "0"},
                      data=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                           b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop>'
                           b"</d:propfind>")
    item_id = re.search(r"<oc:fileid>([^<]+)</oc:fileid>", found.text)
    assert item_id, found.text
    marie = requests.get(f"{server.url}/graph/v1.0/me", auth=("marie", "radioactivity"),
                         timeout=10).json()["id"]
    out, details = _node(node_modules, PROBE, server.url, item_id[1].split("!")[0], item_id[1],
                         "einstein:relativity", "marie:radioactivity", marie)
    summary = re.search(r"^probe: (\d+) ok, (\d+) errors$", out, re.MULTILINE)
    assert summary, details + server.log_tail()
    assert summary[2] == "0" and summary[1] == "14", details + server.log_tail()
