"""`ocis trash ...` and `ocis versions ...`: usage errors in-process, the SDK against the in-process
ocdav app, and (marked slow) the whole story against the real server through the real CLI."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_cli import Story
from kit import ocdav_root, password_of
from typer.testing import CliRunner

from ocis_cli.client import Client
from ocis_cli.client.trash import TrashEntry
from ocis_cli.commands.trash import pick_entry
from ocis_cli.exitcodes import ExitCode
from ocis_cli.main import app
from ocis_cli.output import CliError


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    for key in list(os.environ):
        if key.startswith(("OCIS_", "PROXY_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), prog_name="ocis")


def test_purge_needs_a_key_or_all(cli: Callable[..., Any]) -> None:
    result = cli("trash", "purge")
    assert result.exit_code == ExitCode.USAGE and "--all" in result.output
    result = cli("trash", "purge", "--all", "Space", "extra")
    assert result.exit_code == ExitCode.USAGE


def test_commands_without_a_context_exit_10(cli: Callable[..., Any]) -> None:
    for args in (["trash", "ls"], ["trash", "restore", "k"], ["versions", "ls", "/a.txt"]):
        assert cli(*args).exit_code == ExitCode.NOT_INITIALISED, args


def _entry(key: str) -> TrashEntry:
    return TrashEntry(key=key, name=key, original_location=key, is_folder=False, size=0,
                      deleted=None)


def test_pick_entry_by_key_or_unique_prefix() -> None:
    entries = [_entry("abc123"), _entry("abd456"), _entry("xyz")]
    assert pick_entry(entries, "xyz").key == "xyz"
    assert pick_entry(entries, "abc").key == "abc123"
    with pytest.raises(CliError) as ambiguous:
        pick_entry(entries, "ab")
    assert ambiguous.value.code == ExitCode.USAGE
    with pytest.raises(CliError) as missing:
        pick_entry(entries, "nope")
    assert missing.value.code == ExitCode.NOT_FOUND


async def test_sdk_against_the_ocdav_app(aiohttp_server: Any, tmp_path: Path) -> None:
    root, users, storage = await ocdav_root(tmp_path)
    server = await aiohttp_server(root)
    space = f"{storage.storage_id}${users['alice'].id}"
    async with Client(str(server.make_url("/")), user="alice", password=password_of("alice")) as client:
        await client.webdav.mkcol(space, "/d")
        await client.http.request("PUT", "/remote.php/webdav/d/f.txt", data=b"one")
        await client.http.request("PUT", "/remote.php/webdav/d/f.txt", data=b"two!")
        file_id = (await client.webdav.stat(space, "/d/f.txt")).id
        [version] = await client.versions.list(file_id)
        assert version.size == 3 and version.etag and version.checksums.startswith("SHA1:")
        await client.versions.restore(file_id, version.key)
        assert [v.size for v in await client.versions.list(file_id)] == [4]
        await client.webdav.delete(space, "/d")
        [entry] = await client.trash.list(space)
        assert (entry.name, entry.original_location, entry.is_folder, entry.size) == (
            "d", "d", True, 3)
        assert entry.deleted is not None and entry.to_json()["deleted"].endswith("Z")
        assert await client.trash.restore(space, entry.key, "/back") == 201
        assert (await client.webdav.stat(space, "/back/f.txt")).id == file_id
        await client.webdav.delete(space, "/back")
        await client.trash.purge(space, entry.key)
        assert await client.trash.list(space) == []


@pytest.mark.slow
def test_e2e_trash_and_versions(tmp_path: Path, real_server: Any) -> None:
    story = Story(real_server.env, tmp_path)
    story.login(real_server.url, "admin", "admin")
    name = f"TrashStory-{uuid.uuid4().hex[:8]}"
    story.run("spaces", "create", name)
    local = tmp_path / "v.txt"
    local.write_bytes(b"first version")
    story.run("mkdir", f"{name}:/docs")
    story.run("put", str(local), f"{name}:/docs/v.txt")
    local.write_bytes(b"second")
    story.run("put", str(local), f"{name}:/docs/v.txt")
    file_id = story.json("stat", f"{name}:/docs/v.txt")["id"]

    versions = story.json("versions", "ls", f"{name}:/docs/v.txt")
    assert [v["size"] for v in versions] == [13]
    assert versions[0]["mtime"].endswith("Z") and versions[0]["etag"]
    assert versions[0]["key"] in story.run("versions", "ls", f"{name}:/docs/v.txt").stdout.decode()
    story.run("versions", "restore", f"{name}:/docs/v.txt", versions[0]["key"])
    assert story.run("get", f"{name}:/docs/v.txt", "-").stdout == b"first version"
    missing = story.run("versions", "restore", f"{name}:/docs/v.txt", "999999", expect=None)
    assert missing.returncode == ExitCode.NOT_FOUND

    # owncloudcmd-style: delete, restore, the file id is the same.
    story.run("rm", "-r", f"{name}:/docs")
    assert story.json("trash", "ls", name)[0]["original_location"] == "docs"
    [item] = story.json("trash", "ls", name)
    assert item["type"] == "folder" and item["name"] == "docs" and item["deleted"].endswith("Z")
    table = story.run("trash", "ls", name).stdout.decode()
    assert item["key"] in table and "/docs" in table
    story.run("trash", "restore", item["key"][:8], name)
    assert story.json("stat", f"{name}:/docs/v.txt")["id"] == file_id
    assert story.json("trash", "ls", name) == []

    # Restore rules: a name taken (exit 1 unless --overwrite), --to elsewhere.
    story.run("rm", f"{name}:/docs/v.txt")
    story.run("put", str(local), f"{name}:/docs/v.txt")
    key = story.json("trash", "ls", name)[0]["key"]
    taken = story.run("trash", "restore", key, name, expect=ExitCode.FAILURE)
    assert b"--overwrite" in taken.stderr
    story.run("trash", "restore", key, name, "--to", "/copy.txt")
    assert story.run("get", f"{name}:/copy.txt", "-").stdout == b"first version"

    # Purge: confirmation is required without a terminal; -y purges.
    story.run("rm", f"{name}:/copy.txt")
    story.run("rm", f"{name}:/docs/v.txt")
    assert len(story.json("trash", "ls", name)) == 2
    story.run("trash", "purge", "--all", name, expect=ExitCode.USAGE)
    one = story.json("trash", "ls", name)[0]["key"]
    story.run("trash", "purge", one, name, expect=ExitCode.USAGE)
    story.run("trash", "purge", one, name, "-y")
    assert len(story.json("trash", "ls", name)) == 1
    story.run("trash", "purge", "--all", name, "-y")
    assert json.loads(story.run("trash", "ls", name, "-o", "json").stdout) == []
    assert story.run("trash", "restore", one, name, expect=None).returncode == ExitCode.NOT_FOUND
