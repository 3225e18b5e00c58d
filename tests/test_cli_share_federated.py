"""`ocis share add|ls|update|rm` with a federated recipient, through the real CLI against two
real servers (`ocis init` + `ocis server`, zurich and paris, each listing the other in its
providers file): Einstein shares /Physics with marie@paris.test; paris records the offer (read
from its metadata database: its own listings are the receiver's side); the role change and the
removal reach paris; an unlisted domain is an error naming the providers file; a refusal by
paris leaves nothing recorded at zurich."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import Story

from ocis_cli.exitcodes import ExitCode
from ocm_peers import real_zurich_and_paris


@pytest.fixture
def servers(tmp_path: Path, real_server_factory: Callable[..., Any]) -> Iterator[tuple[Any, Any]]:
    with real_zurich_and_paris(tmp_path, real_server_factory, OCM_REQUIRE_INVITE="false",
                               OCM_CLIENT_TIMEOUT="10") as both:
        yield both


def received_at(server: Any) -> list[tuple[str, str, str]]:
    """(providerId, permissions, owner) of every federated share the server recorded."""
    db = server.workdir / "data" / "storage" / "users" / "metadata.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [(str(r[0]), str(r[1]), str(r[2])) for r in conn.execute(
            "SELECT provider_id, permissions, owner FROM remote_shares ORDER BY ctime")]


@pytest.mark.slow
def test_federated_share_story(tmp_path: Path, servers: tuple[Any, Any]) -> None:
    zurich, paris = servers
    einstein = Story(zurich.env, tmp_path / "e")
    einstein.workdir.mkdir()
    einstein.env["XDG_CONFIG_HOME"] = str(einstein.workdir / "xdg")
    einstein.login(zurich.url, "einstein", "relativity")
    einstein.run("mkdir", "/Physics")
    local = tmp_path / "a.txt"
    local.write_bytes(b"E=mc2")
    einstein.run("put", str(local), "/Physics/a.txt")

    added = einstein.run("share", "add", "/Physics", "marie@paris.test", "--role", "editor")
    assert b"Shared /Physics with marie@paris.test as editor." in added.stderr, added.stderr
    [mine] = einstein.json("share", "ls")
    assert (mine["type"], mine["recipient"], mine["role"], mine["path"]) == (
        "federated", "marie@paris.test", "editor", "/Physics")
    table = einstein.run("share", "ls").stdout.decode()
    assert "marie@paris.test" in table and "federated" in table
    assert received_at(paris) == [(mine["id"], "read,write", "einstein@zurich.test")]

    # The role changes at zurich and paris hears of it.
    assert einstein.json("share", "update", mine["id"], "--role", "viewer")["role"] == "viewer"
    assert received_at(paris) == [(mine["id"], "read", "einstein@zurich.test")]

    # An unlisted domain, and a recipient paris does not know: clear errors, nothing recorded.
    lyon = einstein.run("share", "add", "/Physics/a.txt", "marie@lyon.test", expect=None)
    assert lyon.returncode == ExitCode.USAGE
    assert b"'lyon.test' is not a trusted OCM provider (not listed in ocmproviders.json)" \
        in lyon.stderr
    nobody = einstein.run("share", "add", "/Physics/a.txt", "nobody@paris.test", expect=None)
    assert nobody.returncode != 0 and b"paris.test refused the share" in nobody.stderr
    assert len(einstein.json("share", "ls")) == 1
    # marie@zurich.test is Marie here: an ordinary user share.
    local_share = einstein.json("share", "add", "/Physics/a.txt", "marie@zurich.test")
    assert (local_share["type"], local_share["recipient"]) == ("user", "marie")

    einstein.run("share", "rm", "-y", mine["id"])
    assert received_at(paris) == []
    assert [s["type"] for s in einstein.json("share", "ls")] == ["user"]
    assert einstein.run("share", "rm", "-y", mine["id"], expect=None).returncode == (
        ExitCode.NOT_FOUND)
    assert json.loads(einstein.run("share", "ls", "/Physics", "-o", "json").stdout) == []
