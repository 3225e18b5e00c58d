"""`ocis watch -o json` in a subprocess against a real server: marie watches, einstein shares a
folder with her and uploads into it; one JSON object per change, with path and who; Ctrl-C
ends it with 130 (the shell convention every command follows)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import RealServer, launch_real_server
from tests.test_cli import Story

SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("watch")) as srv:
        yield srv


def _lines(proc: subprocess.Popen[bytes]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            out.put(raw.decode())
    threading.Thread(target=pump, daemon=True).start()
    return out


def _next(lines: queue.Queue[str], timeout: float = 15.0) -> dict[str, Any]:
    record = json.loads(lines.get(timeout=timeout))
    assert isinstance(record, dict)
    return record


def _wait_subscribed(url: str, lines: queue.Queue[str]) -> None:
    """Marie makes folders until her watch prints one (the CLI has started and subscribed)."""
    deadline = time.monotonic() + 60
    for n in range(1000):
        mkcol = requests.request("MKCOL", f"{url}/remote.php/dav/files/marie/ready-{n}",
                                 auth=("marie", "radioactivity"))
        assert mkcol.status_code == 201
        try:
            lines.get(timeout=1.0)
            break
        except queue.Empty:
            assert time.monotonic() < deadline, "ocis watch printed nothing"
    time.sleep(1.0)
    while not lines.empty():
        lines.get_nowait()


def test_watch_json_prints_one_object_per_change(server: RealServer, tmp_path: Path) -> None:
    marie = Story(server.env, tmp_path)
    marie.login(server.url, "marie", "radioactivity")
    proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "watch", "-o", "json"],
                            env=marie.env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        lines = _lines(proc)
        _wait_subscribed(server.url, lines)
        einstein = ("einstein", "relativity")
        dav = f"{server.url}/remote.php/dav/files/einstein"
        assert requests.request("MKCOL", f"{dav}/watched", auth=einstein).status_code == 201
        assert requests.request("MKCOL", f"{dav}/hidden", auth=einstein).status_code == 201
        r = requests.post(server.url + SHARES, auth=einstein, params={"format": "json"},
                          data={"path": "/watched", "shareType": "0", "shareWith": "marie",
                                "permissions": "1"})
        assert r.status_code == 200, r.text
        assert requests.put(f"{dav}/watched/a.txt", data=b"x", auth=einstein).status_code == 201
        assert requests.put(f"{dav}/hidden/b.txt", data=b"x", auth=einstein).status_code == 201
        mine = f"{server.url}/remote.php/dav/files/marie/mine"
        assert requests.request("MKCOL", mine, auth=("marie", "radioactivity")).status_code == 201

        shared, uploaded, created = _next(lines), _next(lines), _next(lines)
        assert (shared["event"], shared["who"]) == ("share-created", "Albert Einstein")
        assert uploaded["event"] == "postprocessing-finished"
        assert uploaded["path"].endswith("/watched/a.txt"), uploaded   # as meta-path-for-user
        assert uploaded["etag"] and uploaded["item_id"].startswith(uploaded["space_id"])
        assert (created["event"], created["path"], created["who"]) == (
            "folder-created", "/mine", "Marie Curie")
        assert uploaded["id"] < created["id"]
        assert lines.empty()                               # nothing from /hidden
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 130


def test_watch_needs_a_login(server: RealServer, tmp_path: Path) -> None:
    nobody = Story({**server.env, "HOME": str(tmp_path)}, tmp_path)
    proc = nobody.run("watch", expect=None)
    assert proc.returncode == 10 and b"error" in proc.stderr.lower()
    assert os.path.isdir(tmp_path)
