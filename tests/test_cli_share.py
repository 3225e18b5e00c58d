"""`ocis share ...`, `ocis spaces members ...` and `ocis spaces set-quota|rename|disable|restore|
purge`: parsing and usage errors in-process, and (slow) the sharing story through the real CLI in
subprocesses against a real server, as einstein, marie and the admin."""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_cli import Story
from typer.testing import CliRunner

from ocis_cli.client.graph import members_of
from ocis_cli.client.shares import ShareInfo, link_permissions, role_name
from ocis_cli.commands.shares import ITEM_ROLES, SPACE_ROLES, parse_expire
from ocis_cli.exitcodes import ExitCode
from ocis_cli.main import app
from ocis_cli.output import CliError


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    for key in list(os.environ):
        if key.startswith(("OCIS_", "OC_PASS")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        return runner.invoke(app, list(args), env=env, prog_name="ocis")
    return invoke


def test_expiry_forms() -> None:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_expire("7d", now=now) == "2030-01-08T12:00:00Z"
    assert parse_expire("12h", now=now) == "2030-01-02T00:00:00Z"
    assert parse_expire("2w", now=now) == "2030-01-15T12:00:00Z"
    assert parse_expire("2031-02-03") == "2031-02-03"
    assert parse_expire("2031-02-03T10:00:00+02:00") == "2031-02-03T08:00:00Z"
    assert parse_expire("never") == ""
    for bad in ("0d", "soon", "2031-02-30", "7y"):
        with pytest.raises(CliError) as info:
            parse_expire(bad, now=now)
        assert info.value.code == ExitCode.USAGE


def test_role_tables_follow_the_unified_roles() -> None:
    assert {"viewer", "editor", "file-editor", "uploader"} <= set(ITEM_ROLES)
    assert {"space-viewer", "space-editor", "manager"} <= set(SPACE_ROLES)
    assert not set(ITEM_ROLES) & set(SPACE_ROLES)
    assert role_name(1, "folder", 0) == "viewer" and role_name(15, "folder", 1) == "editor"
    assert role_name(3, "file", 0) == "file-editor" and role_name(4, "folder", 0) == "uploader"
    assert role_name(31, "folder", 7) == "manager" and role_name(7, "folder", 0) == "custom:7"
    assert link_permissions("edit", is_folder=False) == 3
    assert link_permissions("file-drop", is_folder=True) == 4
    with pytest.raises(ValueError):
        link_permissions("file-drop", is_folder=False)


def test_share_record_and_members_parsing() -> None:
    share = ShareInfo.from_ocs({"id": "s:p:u", "share_type": 0, "permissions": 15,
                                "item_type": "folder", "path": "/docs", "share_with": "marie",
                                "state": 1, "uid_owner": "einstein"})
    assert (share.kind, share.role, share.state, share.recipient) == (
        "user", "editor", "pending", "marie")
    assert share.to_json()["expiration"] is None
    drive = {"root": {"permissions": [
        {"grantedToIdentities": [{"user": {"id": "u1", "displayName": "Marie"}}],
         "roles": ["editor"]},
        {"grantedToV2": {"group": {"id": "g1", "displayName": "physics"}},
         "roles": ["312c0871-5ef7-4b3a-85b6-0e4074c64049"],
         "expirationDateTime": "2031-01-01T00:00:00Z"}]}}
    members = members_of(drive)
    assert [(m.id, m.kind, m.role) for m in members] == [
        ("u1", "user", "space-editor"), ("g1", "group", "manager")]
    assert members[1].expiration == "2031-01-01T00:00:00Z"
    assert [m.permission_id for m in members] == ["u:u1", "g:g1"]


def test_usage_errors_come_before_any_request(cli: Callable[..., Any]) -> None:
    """No context exists: a usage error exits 2, a valid command reaches the context check (10)."""
    assert cli("share", "add", "/a", "marie", "--role", "owner").exit_code == ExitCode.USAGE
    assert cli("share", "add", "/a", "marie", "--role", "manager").exit_code == ExitCode.USAGE
    assert cli("share", "add", "/a", "marie", "--expire", "later").exit_code == ExitCode.USAGE
    assert cli("share", "update", "x").exit_code == ExitCode.USAGE
    assert cli("share", "ls", "--by-me", "--pending").exit_code == ExitCode.USAGE
    assert cli("spaces", "members", "add", "P", "marie", "--role", "editor").exit_code == (
        ExitCode.USAGE)
    assert cli("spaces", "set-quota", "P", "lots").exit_code == ExitCode.USAGE
    assert cli("share", "add", "/a", "marie", "--role", "Editor").exit_code == (
        ExitCode.NOT_INITIALISED)


def test_help_lists_the_verbs(cli: Callable[..., Any]) -> None:
    for verb in ("add", "ls", "update", "rm", "accept", "decline", "hide"):
        assert verb in cli("share", "--help").output
    for verb in ("members", "set-quota", "rename", "disable", "restore", "purge"):
        assert verb in cli("spaces", "--help").output


# --- the real thing ---------------------------------------------------------------------------

def _propfind(url: str, user: str, password: str) -> int:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, method="PROPFIND",
                                     headers={"Authorization": f"Basic {token}", "Depth": "0"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _ids(rows: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in rows}


@pytest.mark.slow
def test_share_story(tmp_path: Path, real_server: Any) -> None:
    einstein, marie = Story(real_server.env, tmp_path / "e"), Story(real_server.env, tmp_path / "m")
    for story in (einstein, marie):
        story.workdir.mkdir()
        story.env["XDG_CONFIG_HOME"] = str(story.workdir / "xdg")
    einstein.login(real_server.url, "einstein", "relativity")
    marie.login(real_server.url, "marie", "radioactivity")
    folder = f"/share-{uuid.uuid4().hex[:8]}"
    einstein.run("mkdir", folder)
    local = tmp_path / "r.txt"
    local.write_bytes(b"results")
    einstein.run("put", str(local), f"{folder}/r.txt")

    # add by e-mail, the id is printed; the role and the path come back in the listing
    added = einstein.run("share", "add", folder, "marie@example.org", "--role", "editor")
    assert added.stdout == b""                    # the id only with -q or -o json
    assert f"Shared {folder} with Marie Curie (marie) as editor.".encode() in added.stderr
    einstein.run("share", "rm", "-y", einstein.json("share", "ls", folder)[0]["id"])
    share_id = einstein.run("share", "add", folder, "marie@example.org", "--role", "editor",
                            "-q").stdout.decode().strip()
    mine = einstein.json("share", "ls", folder)
    assert [(s["id"], s["recipient"], s["role"], s["type"]) for s in mine] == [
        (share_id, "marie", "editor", "user")]
    assert share_id in einstein.run("share", "ls", "-o", "wide").stdout.decode()
    received = [s for s in marie.json("share", "ls", "--with-me") if s["id"] == share_id]
    assert received and received[0]["state"] == "accepted" and received[0]["role"] == "editor"
    rows = [line.split("\t") for line in marie.run("share", "ls", "--with-me", "-o", "wide"
                                                    ).stdout.decode().splitlines()]
    assert [row[1] for row in rows if row[-1] == share_id] == ["einstein"]     # FROM ... ID

    # decline, accept, hide; pending lists nothing (auto-accept is on)
    assert marie.json("share", "decline", share_id)["state"] == "declined"
    assert share_id not in _ids(marie.json("share", "ls", "--pending"))
    assert marie.json("share", "accept", share_id)["state"] == "accepted"
    assert marie.json("share", "hide", share_id)["hidden"] is True
    assert marie.json("share", "hide", share_id, "--undo")["hidden"] is False

    # update: role and expiry; a file share cannot be editor (server: role not applicable)
    updated = einstein.json("share", "update", share_id, "--role", "viewer", "--expire", "7d")
    assert updated["role"] == "viewer" and updated["expiration"]
    assert einstein.json("share", "update", share_id, "--expire", "never")["expiration"] is None
    file_share = einstein.run("share", "add", f"{folder}/r.txt", "marie", "--role", "editor",
                              expect=None)
    assert file_share.returncode == ExitCode.FAILURE and b"not applicable" in file_share.stderr

    # exit codes: unknown path 3, unknown user 3, marie may not remove einstein's share (she
    # declines it instead) and may not update it (6)
    assert einstein.run("share", "add", "/nope", "marie", expect=None).returncode == (
        ExitCode.NOT_FOUND)
    unknown = einstein.run("share", "add", folder, "nobody-here", expect=None)
    assert unknown.returncode == ExitCode.NOT_FOUND and b"`ocis users ls`" in unknown.stderr
    assert marie.run("share", "update", share_id, "--role", "editor",
                     expect=None).returncode == ExitCode.PERMISSION

    # rm confirms: without a terminal and without -y it is a usage error; -y removes
    assert einstein.run("share", "rm", share_id, expect=None).returncode == ExitCode.USAGE
    einstein.run("share", "rm", share_id, "-y")
    assert einstein.json("share", "ls", folder) == []
    assert share_id not in _ids(marie.json("share", "ls", "--with-me"))
    assert einstein.run("share", "rm", share_id, "-y", expect=None).returncode == (
        ExitCode.NOT_FOUND)


@pytest.mark.slow
def test_group_share_and_space_administration(tmp_path: Path, real_server: Any) -> None:
    admin, marie = Story(real_server.env, tmp_path / "a"), Story(real_server.env, tmp_path / "m")
    einstein = Story(real_server.env, tmp_path / "e")
    for story in (admin, marie, einstein):
        story.workdir.mkdir()
        story.env["XDG_CONFIG_HOME"] = str(story.workdir / "xdg")
    admin.login(real_server.url, "admin", "admin")
    marie.login(real_server.url, "marie", "radioactivity")
    einstein.login(real_server.url, "einstein", "relativity")
    tag = uuid.uuid4().hex[:8]
    group = f"lab-{tag}"
    group_id = admin.run("groups", "add", group).stdout.decode().strip()
    admin.run("groups", "add-member", group, "marie")

    # a group share reaches marie
    folder = f"/g-{tag}"
    einstein.run("mkdir", folder)
    shared = einstein.json("share", "add", folder, f"group:{group}", "--role", "viewer")
    assert shared["type"] == "group" and shared["recipient"] == group
    assert shared["id"] in _ids(marie.json("share", "ls", "--with-me"))

    # a project space: members add/ls/rm, roles, the last manager stays
    space = f"Lab {tag}"
    admin.run("spaces", "create", space, "--quota", "1GB")
    members = admin.json("spaces", "members", "add", space, "marie", "--role", "space-editor")
    assert ("Marie Curie", "space-editor") in {(m["displayName"], m["role"]) for m in members}
    assert space in {d["name"] for d in marie.json("spaces", "ls")}
    marie.run("mkdir", f"{space}:/from-marie")                     # an editor may write
    in_space = admin.json("share", "add", f"{space}:/from-marie", "einstein")  # SPACE:/path
    assert in_space["path"] == "/from-marie" and in_space["role"] == "viewer"
    assert in_space["id"] in _ids(einstein.json("share", "ls", "--with-me"))
    admin.run("spaces", "members", "add", space, "marie", "--role", "space-viewer")
    listed = admin.json("spaces", "members", "ls", space)
    assert {m["role"] for m in listed if m["displayName"] == "Marie Curie"} == {"space-viewer"}
    assert marie.run("mkdir", f"{space}:/nope", expect=None).returncode == ExitCode.PERMISSION
    admin.run("spaces", "members", "add", space, f"group:{group}", "--role", "space-viewer")
    assert ("group", "space-viewer") in {(m["type"], m["role"]) for m in admin.json(
        "spaces", "members", "ls", space) if m["id"] == group_id}
    expiring = admin.json("spaces", "members", "add", space, "einstein@example.org", "--role",
                          "space-editor", "--expire", "2099-12-31")
    [albert] = [m for m in expiring if m["displayName"] == "Albert Einstein"]
    assert albert["role"] == "space-editor"
    assert albert["expiration"].startswith("2099-12-31T23:59:59")
    assert "2099-12-31" in admin.run("spaces", "members", "ls", space).stdout.decode()
    einstein.run("mkdir", f"{space}:/from-einstein")
    admin.run("spaces", "members", "rm", space, f"group:{group}", "-y")
    assert group_id not in _ids(admin.json("spaces", "members", "ls", space))
    managers = [m for m in admin.json("spaces", "members", "ls", space) if m["role"] == "manager"]
    assert len(managers) == 1
    last = admin.run("spaces", "members", "rm", space, "admin", "-y", expect=None)
    assert last.returncode != 0 and b"last manager" in last.stderr
    assert marie.run("spaces", "members", "add", space, "einstein", "--role", "manager",
                     expect=None).returncode == ExitCode.PERMISSION
    admin.run("spaces", "members", "rm", space, "marie", "-y")
    assert space not in {d["name"] for d in marie.json("spaces", "ls")}
    assert admin.run("spaces", "members", "rm", space, "marie", "-y",
                     expect=None).returncode == ExitCode.NOT_FOUND

    # quota (decimal and binary units), rename, disable, restore, purge
    assert admin.json("spaces", "set-quota", space, "2GiB")["quota"]["total"] == 2 * 1024**3
    assert admin.json("spaces", "set-quota", space, "500MB")["quota"]["total"] == 500_000_000
    renamed = f"Lab renamed {tag}"
    assert admin.json("spaces", "rename", space, renamed)["name"] == renamed
    assert admin.run("spaces", "purge", renamed, "-y", expect=None).returncode == ExitCode.FAILURE
    assert admin.run("spaces", "disable", renamed, expect=None).returncode == ExitCode.USAGE
    admin.run("spaces", "disable", renamed, "-y")
    restored = admin.json("spaces", "restore", renamed)
    assert "deleted" not in restored["root"]
    admin.run("spaces", "disable", renamed, "-y")
    admin.run("spaces", "purge", renamed, "-y")
    assert renamed not in {d["name"] for d in admin.json("spaces", "ls")}
    assert admin.run("spaces", "rename", renamed, "x", expect=None).returncode == (
        ExitCode.NOT_FOUND)

    # create with a second manager: marie manages it (renames it, adds einstein)
    managed = f"Managed {tag}"
    admin.run("spaces", "create", managed, "--manager", "marie")
    assert ("Marie Curie", "manager") in {(m["displayName"], m["role"]) for m in admin.json(
        "spaces", "members", "ls", managed)}
    assert marie.json("spaces", "rename", managed, managed + " 2")["name"] == managed + " 2"
    marie.run("spaces", "members", "add", managed + " 2", "einstein")


@pytest.mark.slow
def test_pending_shares_wait_for_acceptance(tmp_path: Path,
                                            real_server_factory: Callable[..., Any]) -> None:
    with real_server_factory(tmp_path / "srv", {"FRONTEND_AUTO_ACCEPT_SHARES": "false"}) as server:
        einstein, marie = Story(server.env, tmp_path / "e"), Story(server.env, tmp_path / "m")
        for story in (einstein, marie):
            story.workdir.mkdir()
            story.env["XDG_CONFIG_HOME"] = str(story.workdir / "xdg")
        einstein.login(server.url, "einstein", "relativity")
        marie.login(server.url, "marie", "radioactivity")
        einstein.run("mkdir", "/pending")
        share_id = einstein.run("share", "add", "/pending", "marie", "-q").stdout.decode().strip()
        [waiting] = marie.json("share", "ls", "--pending")
        assert (waiting["id"], waiting["state"], waiting["role"], waiting["owner"]) == (
            share_id, "pending", "viewer", "einstein")
        assert _propfind(server.url + "/remote.php/webdav/Shares/pending", "marie",
                         "radioactivity") == 404
        assert marie.json("share", "accept", share_id)["state"] == "accepted"
        assert marie.json("share", "ls", "--pending") == []
        assert _propfind(server.url + "/remote.php/webdav/Shares/pending", "marie",
                         "radioactivity") == 207
        assert einstein.run("share", "accept", share_id, expect=None).returncode == (
            ExitCode.NOT_FOUND)                            # not shared with einstein
