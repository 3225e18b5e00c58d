"""Every list command of `ocis`, rendered by the real CLI on an 80-column terminal against a real
server: every header shows, no line is wider than the terminal, and the values a person reads (a
path, a recipient, a role, a date) stay whole on one line instead of folding a letter a line.
`-o wide` adds the ids and URLs, `-o json` keeps everything; sizes are IEC everywhere."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_pty import run_on_terminal
from test_cli import Story

from ocis_cli.client.units import human_size as shared_human_size
from ocis_cli.client.units import iso_text
from ocis_cli.output import Col, Format, print_table
from ocis_server.services.publiclinks.pages import human_size as page_human_size
from ocis_server.services.web.pages import human_size as home_human_size
from ocis_tui.transfers import human_size as tui_human_size


@dataclass
class World:
    einstein: Story
    marie: Story
    admin: Story
    tag: str
    folder: str
    space: str
    group: str


def _story(server: Any, root: Path, name: str, password: str) -> Story:
    story = Story(server.env, root / name)
    story.workdir.mkdir(parents=True)
    story.env["XDG_CONFIG_HOME"] = str(story.workdir / "xdg")
    story.env["XDG_CACHE_HOME"] = str(story.workdir / "cache")
    story.login(server.url, name, password)
    return story


@pytest.fixture(scope="module")
def world(real_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("tables")
    einstein = _story(real_server, root, "einstein", "relativity")
    marie = _story(real_server, root, "marie", "radioactivity")
    admin = _story(real_server, root, "admin", "admin")
    tag = uuid.uuid4().hex[:6]
    folder = f"/Relativity-{tag}"
    local = root / "notes.txt"
    local.write_text("E = mc^2\n")
    einstein.run("mkdir", folder)
    einstein.run("put", str(local), f"{folder}/notes.txt")
    local.write_text("E = mc^2, revised\n")
    einstein.run("put", str(local), f"{folder}/notes.txt")           # a version
    einstein.run("put", str(local), f"{folder}/old.txt")
    einstein.run("rm", f"{folder}/old.txt")                           # a trash entry
    einstein.run("share", "add", folder, "marie", "--role", "viewer")
    einstein.run("share", "add", f"{folder}/notes.txt", "marie", "--role", "file-editor",
                 "--expire", "2099-12-31")
    einstein.run("link", "create", folder, "--expire", "2099-12-31")
    space, group = f"Lab {tag}", f"lab-{tag}"
    admin.run("spaces", "create", space, "--quota", "1GiB")
    admin.run("spaces", "members", "add", space, "marie", "--role", "space-viewer")
    admin.run("groups", "add", group, "--description", "Physicists of the lab")
    admin.run("groups", "add-member", group, "marie")
    admin.run("auth-app", "create", "--expiration", "72h")
    yield World(einstein, marie, admin, tag, folder, space, group)


def render(story: Story, *args: str, columns: int = 80) -> str:
    code, text, stderr = run_on_terminal(list(args), story.env, story.workdir, columns=columns)
    assert code == 0, f"`ocis {' '.join(args)}` exited {code}: {stderr}\n{text}"
    return text


def check(text: str, headers: list[str], values: list[str], columns: int = 80) -> None:
    """Every header on the first line, nothing wider than the terminal, each value whole."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the table printed nothing"
    for header in headers:
        assert header in lines[0], f"header {header!r} missing at {columns} columns:\n{text}"
    for line in lines:
        assert len(line) <= columns, f"a line is {len(line)} wide at {columns} columns:\n{text}"
    for value in values:
        assert any(value in line for line in lines[1:]), (
            f"{value!r} is not shown whole on one line at {columns} columns:\n{text}")


SHARE_HEADERS = ["PATH", "WITH", "ROLE", "TYPE", "EXPIRES"]


@pytest.mark.slow
@pytest.mark.parametrize("columns", [80, 100, 120])
def test_share_ls_fits(world: World, columns: int) -> None:
    text = render(world.einstein, "share", "ls", columns=columns)
    check(text, SHARE_HEADERS, [world.folder, f"{world.folder}/notes.txt", "marie", "viewer",
                                "file-editor", "2099-12-31"], columns)
    assert "ID" not in text.splitlines()[0]
    received = render(world.marie, "share", "ls", "--with-me", columns=columns)
    check(received, ["PATH", "FROM", "ROLE", "TYPE", "EXPIRES", "STATE"],
          ["einstein", "viewer", "file-editor", "accepted"], columns)


@pytest.mark.slow
def test_wide_adds_ids_and_json_keeps_everything(world: World) -> None:
    shares = world.einstein.json("share", "ls")
    wide = render(world.einstein, "share", "ls", "-o", "wide")
    assert "ID" in wide.splitlines()[0]
    assert all(s["id"] in wide for s in shares)
    # ISO 8601 with a zone (a date alone means the end of that day)
    assert {s["expiration"] for s in shares} >= {"2099-12-31T23:59:59Z"}
    drives = world.marie.json("spaces", "ls")
    wide_spaces = render(world.marie, "spaces", "ls", "-o", "wide")
    assert "WEBDAV URL" in wide_spaces.splitlines()[0]
    for drive in drives:
        if drive["driveType"] != "virtual":
            assert drive["root"]["webDavUrl"] in wide_spaces
    assert drives[0]["root"]["webDavUrl"] not in render(world.marie, "spaces", "ls")


@pytest.mark.slow
def test_spaces_and_users_fit(world: World) -> None:
    spaces = render(world.marie, "spaces", "ls")
    check(spaces, ["NAME", "TYPE", "OWNER", "ROLE", "QUOTA"],
          ["Marie Curie", world.space, "space-viewer", "mountpoint", "Albert Einstein",
           "file-editor"])
    assert "http" not in spaces
    users = render(world.admin, "users", "ls")
    check(users, ["USERNAME", "DISPLAY NAME", "EMAIL", "ROLE"],
          ["einstein", "Albert Einstein", "einstein@example.org", "marie"])
    rows = [line for line in users.splitlines()[1:] if line.strip()]
    assert all(len(line.split()) >= 4 for line in rows if line.startswith(("einstein", "marie")))


@pytest.mark.slow
@pytest.mark.parametrize(("who", "args", "headers", "values"), [
    ("einstein", ["ls"], ["NAME"], ["{folder_name}/"]),
    ("einstein", ["ls", "-l", "{folder}"], ["PERMISSIONS", "SIZE", "MODIFIED", "NAME"],
     ["notes.txt", "18 B"]),
    ("einstein", ["link", "ls"], ["PATH", "TYPE", "URL", "PASSWORD", "EXPIRES"],
     ["{folder}", "view", "2099-12-31"]),
    ("einstein", ["trash", "ls"], ["KEY", "NAME", "ORIGINAL LOCATION", "SIZE", "DELETED"],
     ["old.txt"]),
    ("einstein", ["versions", "ls", "{folder}/notes.txt"], ["VERSION", "SIZE", "MODIFIED"],
     ["9 B"]),
    ("einstein", ["context", "ls"], ["CURRENT", "NAME", "USER", "URL"], ["einstein"]),
    ("marie", ["ls", "/Shares"], ["NAME"], ["{folder_name}/", "notes.txt"]),
    ("admin", ["groups", "ls"], ["NAME", "DESCRIPTION", "MEMBERS"],
     ["{group}", "Physicists of the lab"]),
    ("admin", ["spaces", "members", "ls", "{space}"], ["NAME", "TYPE", "ROLE", "EXPIRES"],
     ["Marie Curie", "space-viewer", "manager"]),
    ("admin", ["auth-app", "ls"], ["LABEL", "CREATED", "EXPIRES"], ["Generated via CLI"]),
    ("admin", ["list"], ["NAME", "STATE", "GROUP", "RESTARTS", "SINCE"], ["ocdav"]),
    ("admin", ["config", "show"], ["KEY", "ENV", "VALUE"], ["proxy.http_addr", "PROXY_HTTP_ADDR"]),
    ("admin", ["users", "show", "marie"], ["FIELD", "VALUE"], ["marie@example.org"]),
])
def test_every_list_fits_80_columns(world: World, who: str, args: list[str],
                                    headers: list[str], values: list[str]) -> None:
    names = {"folder": world.folder, "folder_name": world.folder.lstrip("/"),
             "space": world.space, "group": world.group}
    story = getattr(world, who)
    text = render(story, *[a.format(**names) for a in args])
    check(text, headers, [v.format(**names) for v in values])


@pytest.mark.slow
def test_upload_sessions_table_fits(world: World) -> None:
    text = render(world.admin, "storage-users", "uploads", "sessions")
    check(text, ["PATH", "SIZE", "RECEIVED", "CREATED", "EXPIRES"], [])


def test_narrow_columns_fold_but_short_ones_stay_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: a long path folds, a role and a date never break; wide columns stay out."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    path = "/" + "/".join(f"folder-{i}" for i in range(12))
    print_table([Col("PATH", fold=True), Col("WITH", fold=True), Col("ROLE"), Col("EXPIRES"),
                 Col("ID", wide=True)],
                [[path, "marie (Marie Curie)", "file-editor", "2099-12-31", "x" * 120]],
                stream=out)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "ID" not in text and "x" * 10 not in text
    check(text, ["PATH", "WITH", "ROLE", "EXPIRES"], ["file-editor", "2099-12-31", "folder-0"])
    assert "".join(line.split()[0] for line in text.splitlines()[1:]).startswith(path[:40])
    out = Tty()
    print_table([Col("PATH", fold=True), Col("ID", wide=True)], [[path, "x" * 120]],
                stream=out, output=Format.wide)
    assert path in out.getvalue() and "x" * 120 in out.getvalue()


@pytest.mark.parametrize("n", [0, 1, 1023, 1024, 1536, 10**6, 5 * 1024**3, 3 * 1024**5])
def test_one_size_convention_for_cli_tui_and_pages(n: int) -> None:
    assert shared_human_size(n) == tui_human_size(n) == page_human_size(n) == home_human_size(n)
    assert "B" in shared_human_size(n) and ("iB" in shared_human_size(n) or n < 1024)


def test_times_in_json_are_iso_8601_with_a_zone() -> None:
    assert iso_text("2030-01-08 12:00:00") == "2030-01-08T12:00:00Z"        # OCS, UTC
    assert iso_text("2030-01-08T14:00:00+02:00") == "2030-01-08T12:00:00Z"
    assert iso_text("") is None
    assert json.loads(json.dumps({"e": iso_text("2030-01-08")})) == {"e": "2030-01-08T00:00:00Z"}
