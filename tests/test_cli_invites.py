"""`ocis invite` through the real CLI against two real servers (`ocis init` + `ocis server`),
zurich and paris, each listing the other in its providers file: Einstein creates an invitation
on zurich, Marie accepts `TOKEN@zurich.test` on paris, both see each other among their contacts,
a second accept is a clear error, and forgetting a contact removes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import RealServer, launch_real_server
from ocm_peers import real_zurich_and_paris
from test_cli import Story

from ocis_cli.exitcodes import ExitCode


def _story(server: RealServer, root: Path, name: str, password: str) -> Story:
    story = Story(server.env, root / f"{name}-{server.port}")
    story.workdir.mkdir(parents=True)
    story.login(server.url, name, password)
    return story


@pytest.mark.slow
def test_invite_create_accept_contacts_forget(tmp_path: Path) -> None:
    with real_zurich_and_paris(tmp_path, launch_real_server) as (zurich, paris):
        einstein = _story(zurich, tmp_path, "einstein", "relativity")
        marie = _story(paris, tmp_path, "marie", "radioactivity")
        invitation = einstein.run("invite", "create", "--description", "Physics").stdout
        token, _, domain = invitation.decode().strip().rpartition("@")
        assert domain == "zurich.test" and len(token) >= 24
        listed: Any = einstein.json("invite", "ls")
        assert [(i["token"], i["description"]) for i in listed] == [(token, "Physics")]

        out = marie.run("invite", "accept", f"{token}@zurich.test").stdout.decode()
        assert "Albert Einstein (einstein@zurich.test) is now a federated contact" in out
        [contact] = marie.json("invite", "contacts")
        assert (contact["address"], contact["display_name"]) == ("einstein@zurich.test",
                                                                 "Albert Einstein")
        [his] = einstein.json("invite", "contacts")
        assert his["address"] == "marie@paris.test" and his["idp"] == "paris.test"
        table = einstein.run("invite", "contacts").stdout.decode()
        assert "Marie Curie" in table and "marie@paris.test" in table

        again = marie.run("invite", "accept", f"{token}@zurich.test", expect=None)
        assert again.returncode != 0 and b"user already known" in again.stderr
        unknown = marie.run("invite", "accept", "nope@zurich.test", expect=None)
        assert unknown.returncode == ExitCode.NOT_FOUND and b"token not found" in unknown.stderr
        unlisted = marie.run("invite", "accept", f"{token}@lyon.test", expect=None)
        assert unlisted.returncode != 0 and b"provider not trusted" in unlisted.stderr
        bad = marie.run("invite", "accept", "no-domain", expect=None)
        assert bad.returncode == ExitCode.USAGE

        assert b"forgot marie@paris.test" in einstein.run("invite", "forget",
                                                          "marie@paris.test").stdout
        assert einstein.json("invite", "contacts") == []
        gone = einstein.run("invite", "forget", "marie@paris.test", expect=None)
        assert gone.returncode == ExitCode.NOT_FOUND
