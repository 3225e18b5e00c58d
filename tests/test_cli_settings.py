"""`ocis settings get|set` through the real CLI in subprocesses against a real server: friendly
names, `-o json`, a saved value that takes effect (a share then waits as pending), bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import RealServer, launch_real_server

from ocis_cli.exitcodes import ExitCode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("cli-settings")) as srv:
        yield srv


def ocis(srv: RealServer, *args: str, home: str = "einstein",
         **env: str) -> subprocess.CompletedProcess[str]:
    full = {**srv.env, "XDG_CONFIG_HOME": str(srv.workdir / f"xdg-{home}"), **env}
    return subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=full, cwd=srv.workdir,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.returncode}\n{result.stderr}"
    return result.stdout


def login(srv: RealServer, user: str, password: str) -> None:
    ok(ocis(srv, "login", srv.url, "--user", user, "--password-from-env", home=user,
            OCIS_PASSWORD=password))


@pytest.mark.slow
def test_get_and_set_settings(server: RealServer) -> None:
    login(server, "einstein", "relativity")
    listed = json.loads(ok(ocis(server, "settings", "get", "-o", "json")))
    by_name = {item["name"]: item for item in listed}
    assert by_name["auto-accept-shares"] == {
        "name": "auto-accept-shares", "id": "ec3ed4a3-3946-4efc-8f9f-76d38b12d3a9",
        "value": True, "default": True, "description": "Automatically accept shares"}
    assert by_name["event-share-created-options"]["value"] == {"in-app": True, "mail": True}

    saved = json.loads(ok(ocis(server, "settings", "set", "auto-accept-shares", "false",
                               "-o", "json")))
    assert saved["value"] is False and saved["default"] is False
    one = json.loads(ok(ocis(server, "settings", "get", "auto-accept-shares", "-o", "json")))
    assert one["value"] is False
    assert ok(ocis(server, "settings", "set", "language", "de")).strip() == "language = de"
    ok(ocis(server, "settings", "set", "event-share-created", "mail=off"))
    table = ok(ocis(server, "settings", "get"))              # TSV when piped
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in table.splitlines()}
    assert rows["language"] == "de" and rows["auto-accept-shares"] == "false"
    assert rows["event-share-created-options"] == "in-app=on,mail=off"

    # it takes effect: marie's share with einstein now waits for him
    login(server, "marie", "radioactivity")
    (server.workdir / "note.txt").write_text("hello")
    ok(ocis(server, "put", str(server.workdir / "note.txt"), "/", home="marie"))
    ok(ocis(server, "share", "add", "/note.txt", "einstein", home="marie"))
    pending = json.loads(ok(ocis(server, "share", "ls", "--pending", "-o", "json")))
    assert [s["path"].rsplit("/", 1)[-1] for s in pending] == ["note.txt"]

    # bad input
    bad = ocis(server, "settings", "set", "auto-accept-shares", "maybe")
    assert bad.returncode != 0
    assert "not true or false" in bad.stderr
    assert ocis(server, "settings", "set", "language", "xx").returncode != 0
    missing = ocis(server, "settings", "get", "no-such-setting")
    assert missing.returncode == ExitCode.NOT_FOUND, missing.stderr
