"""`ocis find`: the SDK's paged search against the in-process ocdav app, and (marked slow) the
real CLI in subprocesses against the real server."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kit import ocdav_root, password_of
from test_cli import Story

from ocis_cli.client import Client
from ocis_cli.client import webdav as webdav_module
from ocis_cli.exitcodes import ExitCode


async def test_sdk_search_pages_through_reports(aiohttp_server: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root, users, storage = await ocdav_root(tmp_path)
    server = await aiohttp_server(root)
    space = f"{storage.storage_id}${users['alice'].id}"
    async with Client(str(server.make_url("/")), user="alice", password=password_of("alice")) as client:
        await client.webdav.mkcol(space, "/d")
        for i in range(7):
            await client.http.request("PUT", f"/remote.php/webdav/d/log-{i}.txt", data=b"x" * i)
        await client.http.request("PUT", "/remote.php/webdav/other.md", data=b"y")
        monkeypatch.setattr(webdav_module, "SEARCH_PAGE", 3)   # several REPORTs for one call
        found, total = await client.webdav.search(space, "/", "LOG", limit=5)
        assert total == 7 and [r.path for r in found] == [f"/d/log-{i}.txt" for i in range(5)]
        assert found[3].size == 3 and found[3].id and not found[3].is_folder
        rest, _ = await client.webdav.search(space, "/d", "log", limit=100, offset=5)
        assert [r.name for r in rest] == ["log-5.txt", "log-6.txt"]
        assert await client.webdav.search(space, "/", "<&>") == ([], 0)


@pytest.mark.slow
def test_e2e_find(tmp_path: Path, real_server: Any) -> None:
    story = Story(real_server.env, tmp_path)
    story.login(real_server.url, "admin", "admin")
    name = f"FindStory-{uuid.uuid4().hex[:8]}"
    story.run("spaces", "create", name)
    local = tmp_path / "a.txt"
    local.write_bytes(b"hello")
    story.run("mkdir", "-p", f"{name}:/docs/2026")
    for remote in ("/docs/Annual Report.pdf", "/docs/2026/report-q1.txt", "/readme.md"):
        story.run("put", str(local), f"{name}:{remote}")
    found = story.json("find", "report", "--space", name)
    assert found["total"] == 2
    assert [m["path"] for m in found["matches"]] == ["/docs/2026/report-q1.txt",
                                                     "/docs/Annual Report.pdf"]
    assert all(m["type"] == "file" and m["size"] == 5 and m["id"] for m in found["matches"])
    table = story.run("find", "*.md", "--space", name).stdout.decode()
    assert "/readme.md" in table and "report" not in table
    limited = story.run("find", "report", "--space", name, "-n", "1")
    assert b"1 of 2 matches" in limited.stderr
    assert story.json("find", "report", "--space", name, "--in", "/docs/2026")["total"] == 1
    assert story.json("find", "report")["total"] == 0            # the personal space
    story.run("find", "x", "--space", "NoSuchSpace", expect=ExitCode.NOT_FOUND)
    story.run("find", " ", expect=ExitCode.USAGE)
