"""The whole federation story of README's "Federation in five minutes", in one test, from the
terminal alone: two `ocis server` processes (zurich, paris) with invitations required (the
default), the real CLI for each person and owncloudcmd for Marie's laptop.

Einstein invites Marie; she accepts; he shares /Physics with marie@paris.test as editor; she
sees it pending, accepts it, finds it among her spaces; owncloudcmd syncs it both ways with her
paris login; Einstein makes her a viewer: her next upload is refused and nothing lands at
zurich; he removes the share: paris's entry goes and her sync can no longer reach it; Einstein's
data stays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ocm_peers import real_zurich_and_paris

from .helpers import describe, require_tool, run

pytestmark = pytest.mark.slow
EINSTEIN = ("einstein", "relativity")


class Person:
    """Runs `python -m ocis_cli` as one person against one server (a private CLI config)."""

    def __init__(self, server: Any, home: Path, user: str, password: str) -> None:
        home.mkdir(parents=True)
        self.env = {**server.env, "XDG_CONFIG_HOME": str(home / "xdg"),
                    "OCIS_PASSWORD": password}
        self.workdir = home
        self.run("login", server.url, "--user", user, "--password-from-env")

    def run(self, *args: str, expect: int | None = 0) -> Any:
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=self.env,
                              cwd=self.workdir, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, check=False)
        if expect is not None:
            assert proc.returncode == expect, f"ocis {' '.join(args)}: {proc.returncode}\n" \
                f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture
def servers(tmp_path: Path, real_server_factory: Callable[..., Any]) -> Iterator[tuple[Any, Any]]:
    with real_zurich_and_paris(tmp_path, real_server_factory, OCM_CLIENT_TIMEOUT="10") as both:
        yield both


def test_federation_story_from_the_terminal(tmp_path: Path, servers: tuple[Any, Any]) -> None:
    owncloudcmd = require_tool("owncloudcmd")
    zurich, paris = servers
    einstein = Person(zurich, tmp_path / "einstein", *EINSTEIN)
    marie = Person(paris, tmp_path / "marie", "marie", "radioactivity")

    # Without an invitation zurich refuses to share (OCM_REQUIRE_INVITE, on by default).
    einstein.run("mkdir", "/Physics")
    (tmp_path / "a.txt").write_bytes(b"E=mc2")
    einstein.run("put", str(tmp_path / "a.txt"), "/Physics/a.txt")
    early = einstein.run("share", "add", "/Physics", "marie@paris.test", expect=None)
    assert early.returncode != 0 and "invite" in early.stderr, early.stderr
    token = einstein.json("invite", "create")["invitation"]
    assert token.endswith("@zurich.test")
    marie.run("invite", "accept", token)

    added = einstein.run("share", "add", "/Physics", "marie@paris.test", "--role", "editor")
    assert "Shared /Physics with marie@paris.test as editor." in added.stderr
    [pending] = marie.json("share", "ls", "--pending")
    assert pending["owner"].startswith("einstein") and pending["path"].endswith("Physics")
    marie.run("share", "accept", pending["id"])
    spaces = marie.run("spaces", "ls").stdout
    assert "Physics" in spaces and "federated" in spaces and "einstein@zurich.test" in spaces

    laptop, exclude = tmp_path / "laptop", tmp_path / "exclude.lst"
    laptop.mkdir()
    exclude.write_text("")

    def sync() -> Any:
        return run([owncloudcmd, "--non-interactive", "--exclude", str(exclude), "-u", "marie",
                    "-p", "radioactivity", str(laptop),
                    f"{paris.url}/remote.php/webdav/Shares/Physics"],
                   env={**os.environ, "HOME": str(tmp_path), "OWNCLOUD_NO_TUS": "1"})

    (laptop / "from paris.txt").write_bytes(b"bonjour\n")
    first = sync()
    assert first.returncode == 0, describe(first)
    assert (laptop / "a.txt").read_bytes() == b"E=mc2"
    at_zurich = requests.get(f"{zurich.url}/remote.php/webdav/Physics/from%20paris.txt",
                             auth=EINSTEIN, timeout=10)
    assert (at_zurich.status_code, at_zurich.content) == (200, b"bonjour\n")

    # Einstein makes her a viewer: her next upload is refused, nothing lands at zurich.
    [mine] = einstein.json("share", "ls")
    assert (mine["type"], mine["recipient"]) == ("federated", "marie@paris.test")
    assert einstein.json("share", "update", mine["id"], "--role", "viewer")["role"] == "viewer"
    (laptop / "late.txt").write_bytes(b"too late\n")
    sync()
    late = requests.get(f"{zurich.url}/remote.php/webdav/Physics/late.txt", auth=EINSTEIN,
                        timeout=10)
    assert late.status_code == 404

    # He removes the share: it leaves her registry; his data stays.
    einstein.run("share", "rm", "-y", mine["id"])
    assert "Physics" not in marie.run("spaces", "ls").stdout
    gone = requests.request("PROPFIND", f"{paris.url}/remote.php/webdav/Shares/Physics",
                            auth=("marie", "radioactivity"), headers={"Depth": "0"}, timeout=10)
    assert gone.status_code == 404
    kept = requests.get(f"{zurich.url}/remote.php/webdav/Physics/from%20paris.txt",
                        auth=EINSTEIN, timeout=10)
    assert kept.status_code == 200
