"""`ocis users ...` and `ocis groups ...`: password sources and usage errors in-process, and (slow)
the whole admin story through the real CLI in subprocesses against a real server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RealServer, launch_real_server
from typer.testing import CliRunner

from ocis_cli.exitcodes import ExitCode
from ocis_cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    for key in list(os.environ):
        if key.startswith(("OCIS_", "OC_PASS", "PROXY_", "IDM_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), env=env, input=input, prog_name="ocis")
    return invoke


def test_no_password_source_without_a_tty_exits_2(cli: Callable[..., Any]) -> None:
    for args in (("users", "add", "marie"), ("users", "passwd", "marie")):
        result = cli(*args)
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "--password-from-env or --password-file required when not interactive" in (
            result.output)


def test_password_is_never_taken_from_argv(cli: Callable[..., Any]) -> None:
    for flag in ("--password", "-p"):
        assert cli("users", "add", "marie", flag, "secret").exit_code == ExitCode.USAGE


def test_password_sources_are_checked_before_any_request(cli: Callable[..., Any],
                                                         tmp_path: Path) -> None:
    result = cli("users", "add", "marie", "--password-from-env")
    assert result.exit_code == ExitCode.USAGE and "OCIS_PASSWORD is not set" in result.output
    empty = tmp_path / "empty"
    empty.write_text("")
    result = cli("users", "add", "marie", "--password-file", str(empty))
    assert result.exit_code == ExitCode.USAGE and "no password" in result.output
    result = cli("users", "add", "marie", "--password-file", str(tmp_path / "missing"))
    assert result.exit_code == ExitCode.USAGE and "cannot read" in result.output
    assert cli("users", "set-role", "marie", "root").exit_code == ExitCode.USAGE
    assert cli("users", "add", "marie", "--role", "root",
               "--password-from-env").exit_code == ExitCode.USAGE


def test_help_lists_users_and_groups(cli: Callable[..., Any]) -> None:
    out = cli("--help").output
    assert "users" in out and "groups" in out
    for verb in ("add", "ls", "show", "rm", "passwd", "set-role", "server"):
        assert verb in cli("users", "--help").output
    for verb in ("add", "ls", "rm", "add-member", "rm-member"):
        assert verb in cli("groups", "--help").output


# --- the real thing ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("cli-users")) as srv:
        yield srv


def ocis(srv: RealServer, *args: str, home: str = "admin", **env: str) -> subprocess.CompletedProcess[str]:
    full = {**srv.env, "XDG_CONFIG_HOME": str(srv.workdir / f"xdg-{home}"), **env}
    return subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=full, cwd=srv.workdir,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.returncode}\n{result.stderr}"
    return result.stdout


def can_log_in(srv: RealServer, user: str, password: str) -> bool:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(srv.url + "/graph/v1.0/me",
                                     headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
        return False


@pytest.mark.slow
def test_admin_manages_users_and_groups_from_the_cli(server: RealServer, tmp_path: Path) -> None:
    ok(ocis(server, "login", server.url, "--user", "admin", "--password-from-env",
            OCIS_PASSWORD="admin"))
    group = json.loads(ok(ocis(server, "groups", "add", "physics", "--description", "Physicists",
                               "-o", "json")))
    assert group["name"] == "physics" and group["id"]
    made = json.loads(ok(ocis(server, "users", "add", "lise", "--display-name", "Lise Meitner",
                              "--email", "lise@example.org", "--group", "physics",
                              "--password-from-env", "-o", "json", OCIS_PASSWORD="fission")))
    assert (made["username"], made["displayName"], made["role"], made["groups"]) == (
        "lise", "Lise Meitner", "user", ["physics"])
    assert can_log_in(server, "lise", "fission")
    assert ocis(server, "users", "add", "lise", "--password-from-env",
                OCIS_PASSWORD="x").returncode != 0                     # exists already
    listed = json.loads(ok(ocis(server, "users", "ls", "-o", "json")))
    assert {"admin", "einstein", "lise"} <= {u["username"] for u in listed}
    table = ok(ocis(server, "users", "ls"))                             # TSV when piped
    assert any(line.split("\t")[0] == "lise" for line in table.splitlines())
    shown = json.loads(ok(ocis(server, "users", "show", "lise", "-o", "json")))
    assert shown["id"] == made["id"] and shown["mail"] == "lise@example.org"

    pw_file = tmp_path / "pw"
    pw_file.write_text("nuclear\n")
    ok(ocis(server, "users", "passwd", "lise", "--password-file", str(pw_file)))
    assert can_log_in(server, "lise", "nuclear") and not can_log_in(server, "lise", "fission")

    role = json.loads(ok(ocis(server, "users", "set-role", "lise", "spaceadmin", "-o", "json")))
    assert role["role"] == "spaceadmin"

    after = json.loads(ok(ocis(server, "groups", "add-member", "physics", "einstein", "-o", "json")))
    assert sorted(after["members"]) == ["einstein", "lise"]
    groups = json.loads(ok(ocis(server, "groups", "ls", "-o", "json")))
    assert sorted(next(g for g in groups if g["name"] == "physics")["members"]) == [
        "einstein", "lise"]
    ok(ocis(server, "groups", "rm-member", "physics", "einstein"))
    assert ocis(server, "groups", "rm-member", "physics", "einstein").returncode == (
        ExitCode.NOT_FOUND)

    # a plain user may not manage accounts
    ok(ocis(server, "login", server.url, "--user", "einstein", "--password-from-env",
            home="einstein", OCIS_PASSWORD="relativity"))
    denied = ocis(server, "users", "add", "mallory", "--password-from-env", home="einstein",
                  OCIS_PASSWORD="x")
    assert denied.returncode == ExitCode.PERMISSION, denied.stderr
    assert ocis(server, "groups", "rm", "physics", "-y", home="einstein").returncode == (
        ExitCode.PERMISSION)

    assert ocis(server, "users", "rm", "lise").returncode == ExitCode.USAGE   # needs -y when piped
    gone = json.loads(ok(ocis(server, "users", "rm", "lise", "-y", "-o", "json")))
    assert gone["deleted"]["id"] == made["id"]
    assert ocis(server, "users", "show", "lise").returncode == ExitCode.NOT_FOUND
    assert not can_log_in(server, "lise", "nuclear")
    ok(ocis(server, "groups", "rm", "physics", "-y"))
    listed = json.loads(ok(ocis(server, "groups", "ls", "-o", "json")))
    assert "physics" not in [g["name"] for g in listed] and "physics-lovers" in [
        g["name"] for g in listed]                       # oCIS's demo groups stay
