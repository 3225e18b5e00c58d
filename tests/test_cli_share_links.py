"""`ocis link create|ls|rm` through the real CLI against a real server: the printed URL is the
link, its files come back over `/dav/public-files/<token>` with the password, a removed link stops
working; and the password sources."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from test_cli import Story
from typer.testing import CliRunner

from ocis_cli.commands.links import link_password
from ocis_cli.exitcodes import ExitCode
from ocis_cli.main import app
from ocis_cli.output import CliError


def test_link_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OCIS_LINK_PASSWORD", "OCIS_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    assert link_password(False, None, False) is None
    with pytest.raises(CliError) as info:
        link_password(True, None, False)
    assert info.value.code == ExitCode.USAGE
    monkeypatch.setenv("OCIS_PASSWORD", "fallback")
    assert link_password(True, None, False) == "fallback"
    monkeypatch.setenv("OCIS_LINK_PASSWORD", "s3cret!")
    assert link_password(True, None, False) == "s3cret!"
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored\n")
    assert link_password(False, secret, False) == "from-file"
    with pytest.raises(CliError):
        link_password(True, secret, False)


def test_bad_link_type_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("OCIS_CONTEXT", raising=False)
    result = CliRunner().invoke(app, ["link", "create", "/a", "--type", "public"], prog_name="ocis")
    assert result.exit_code == ExitCode.USAGE and "file-drop" in result.output
    result = CliRunner().invoke(app, ["link", "create", "/a", "--password"], prog_name="ocis")
    assert result.exit_code == ExitCode.USAGE          # no terminal to ask on


def _get(url: str, *, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_link_story(tmp_path: Path, real_server: Any) -> None:
    einstein = Story(real_server.env, tmp_path)
    einstein.login(real_server.url, "einstein", "relativity")
    folder = f"/links-{uuid.uuid4().hex[:8]}"
    einstein.run("mkdir", folder)
    local = tmp_path / "data.txt"
    local.write_bytes(b"public data")
    einstein.run("put", str(local), f"{folder}/data.txt")

    # a password-protected view link: the URL is printed, the file comes back with the password
    url = einstein.run("link", "create", folder, "--expire", "7d", "--password-from-env",
                       env={"OCIS_LINK_PASSWORD": "Secret123!"}).stdout.decode().strip()
    assert url.startswith(real_server.url + "/s/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 15
    dav = f"{real_server.url}/dav/public-files/{token}/data.txt"
    assert _get(dav, auth=("public", "Secret123!")) == (200, b"public data")
    assert _get(dav, auth=("public", "wrong"))[0] == 401
    assert _get(url)[0] == 200                              # the landing page, no login

    # a file drop on the folder, an edit link on the file; file-drop on a file is refused
    drop = einstein.json("link", "create", folder, "--type", "file-drop", "--name", "inbox")
    assert (drop["link_type"], drop["name"], drop["password_protected"]) == (
        "file-drop", "inbox", False)
    edit = einstein.json("link", "create", f"{folder}/data.txt", "--type", "edit")
    assert edit["link_type"] == "edit" and edit["item_type"] == "file"
    refused = einstein.run("link", "create", f"{folder}/data.txt", "--type", "file-drop",
                           expect=None)
    assert refused.returncode == ExitCode.USAGE and b"needs a folder" in refused.stderr

    # ls: all three, with password and expiry shown; by path: the folder's two
    links = einstein.json("link", "ls")
    mine = {link["token"]: link for link in links}
    assert {token, drop["token"], edit["token"]} <= set(mine)
    assert mine[token]["password_protected"] is True and mine[token]["expiration"]
    assert {link["token"] for link in einstein.json("link", "ls", folder)} == {
        token, drop["token"]}
    assert url in einstein.run("link", "ls").stdout.decode()
    # links are not user shares
    assert einstein.json("share", "ls", folder) == []

    # rm: confirmation, then the URL stops working at once
    assert einstein.run("link", "rm", mine[token]["id"], expect=None).returncode == ExitCode.USAGE
    einstein.run("link", "rm", mine[token]["id"], "-y")
    assert _get(dav, auth=("public", "Secret123!"))[0] in (401, 404)
    assert token not in {link["token"] for link in einstein.json("link", "ls")}
    assert einstein.run("link", "rm", mine[token]["id"], "-y", expect=None).returncode == (
        ExitCode.NOT_FOUND)
    assert einstein.run("link", "create", "/no-such-folder", expect=None).returncode == (
        ExitCode.NOT_FOUND)

