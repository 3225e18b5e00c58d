"""A share made with me is a space (the seed's rule), through the real CLI against a real server
with two demo users: `spaces ls` lists each accepted share with its owner and my role, `ls
/Shares` lists them, and `ls|get|put|rm` reach into a share by its name (`NAME:/path`) or under
`/Shares/NAME`, with exactly the rights the share gives (a viewer's `put` exits 6)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from test_cli import Story

from ocis_cli.exitcodes import ExitCode


def _story(server: Any, root: Path, name: str, password: str) -> Story:
    story = Story(server.env, root / name)
    story.workdir.mkdir(parents=True)
    story.env["XDG_CONFIG_HOME"] = str(story.workdir / "xdg")
    story.env["XDG_CACHE_HOME"] = str(story.workdir / "cache")
    story.login(server.url, name, password)
    return story


@pytest.mark.slow
def test_received_shares_are_spaces(real_server: Any, tmp_path: Path) -> None:
    einstein = _story(real_server, tmp_path, "einstein", "relativity")
    marie = _story(real_server, tmp_path, "marie", "radioactivity")
    tag = uuid.uuid4().hex[:6]
    viewer, editor = f"Read-{tag}", f"Write-{tag}"
    local = tmp_path / "data.txt"
    local.write_text("measurements\n")
    for folder in (viewer, editor):
        einstein.run("mkdir", f"/{folder}")
        einstein.run("put", str(local), f"/{folder}/data.txt")
    einstein.run("put", str(local), f"/single-{tag}.txt")
    einstein.run("share", "add", f"/{viewer}", "marie", "--role", "viewer")
    einstein.run("share", "add", f"/{editor}", "marie", "--role", "editor")
    einstein.run("share", "add", f"/single-{tag}.txt", "marie", "--role", "file-editor")

    # spaces ls: each accepted share is a space, with its owner and the role it gives me
    drives = {d["name"]: d for d in marie.json("spaces", "ls")}
    assert drives[viewer]["driveType"] == drives[editor]["driveType"] == "mountpoint"
    rows = {line.split("\t")[0]: line.split("\t")
            for line in marie.run("spaces", "ls").stdout.decode().splitlines()}
    assert rows[viewer][1:4] == ["mountpoint", "Albert Einstein", "viewer"]
    assert rows[editor][1:4] == ["mountpoint", "Albert Einstein", "editor"]
    assert rows[f"single-{tag}.txt"][3] == "file-editor"

    # /Shares lists them; a share is reached by name or under /Shares
    listed = marie.run("ls", "/Shares").stdout.decode().split()
    assert {f"{viewer}/", f"{editor}/", f"single-{tag}.txt"} <= set(listed)
    assert marie.run("ls", f"/Shares/{viewer}").stdout.decode().split() == ["data.txt"]
    assert marie.run("ls", f"{viewer}:/").stdout.decode().split() == ["data.txt"]
    for remote in (f"/Shares/{viewer}/data.txt", f"{viewer}:/data.txt"):
        assert marie.run("get", remote, "-").stdout == b"measurements\n"

    # a viewer may not write: the permission exit code, and nothing lands
    mine = tmp_path / "mine.txt"
    mine.write_text("from marie\n")
    for remote in (f"/Shares/{viewer}/", f"{viewer}:/mine.txt"):
        assert marie.run("put", str(mine), remote, expect=None).returncode == ExitCode.PERMISSION
    assert marie.run("rm", f"{viewer}:/data.txt", expect=None).returncode == ExitCode.PERMISSION
    assert einstein.run("ls", f"/{viewer}").stdout.decode().split() == ["data.txt"]

    # an editor may: put, mkdir, rm land in einstein's folder
    marie.run("put", str(mine), f"/Shares/{editor}/")
    marie.run("mkdir", f"{editor}:/sub")
    marie.run("rm", f"/Shares/{editor}/data.txt")
    assert sorted(einstein.run("ls", f"/{editor}").stdout.decode().split()) == [
        "mine.txt", "sub/"]
    assert einstein.run("get", f"/{editor}/mine.txt", "-").stdout == b"from marie\n"

    # a file share: its space's root is the file
    marie.run("put", str(mine), f"/Shares/single-{tag}.txt")
    assert einstein.run("get", f"/single-{tag}.txt", "-").stdout == b"from marie\n"
    assert marie.run("get", f"single-{tag}.txt:/", "-").stdout == b"from marie\n"

    # removing a share itself means declining it, and the CLI says so
    gone = marie.run("rm", "-r", f"/Shares/{viewer}", expect=None)
    assert gone.returncode == ExitCode.USAGE and b"ocis share decline" in gone.stderr

    # an unknown share is not found
    assert marie.run("ls", "/Shares/nothing-here", expect=None).returncode == ExitCode.NOT_FOUND
