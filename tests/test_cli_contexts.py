"""Contexts (kubectl's word): a second user logging in to the same server gets a context of their
own (`user@host:port`) instead of silently replacing the first; `ocis context use` switches."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_cli import Story

from ocis_cli.contexts import Context, ContextStore, login_name


def test_login_name_rules(tmp_path: Path) -> None:
    store = ContextStore(tmp_path / "config.toml")
    url = "http://127.0.0.1:9200"
    assert login_name(store, url, "einstein") == "127.0.0.1:9200"            # first: host:port
    store.save(Context("127.0.0.1:9200", url, "einstein", "pw"), make_current=True)
    assert login_name(store, url, "einstein") == "127.0.0.1:9200"            # same user: reuse
    assert login_name(store, url, "marie") == "marie@127.0.0.1:9200"         # another: new one
    assert login_name(store, url, "marie", "lab") == "lab"                   # explicit name wins
    assert login_name(store, "https://cloud.example.com", "marie") == "cloud.example.com"


@pytest.mark.slow
def test_second_user_gets_a_second_context(real_server: Any, tmp_path: Path) -> None:
    story = Story(real_server.env, tmp_path)
    host = urlsplit(real_server.url).netloc
    story.login(real_server.url, "einstein", "relativity")
    second = story.run("login", real_server.url, "--user", "marie", "--password-from-env",
                       env={"OCIS_PASSWORD": "radioactivity"})
    assert f"marie@{host}" in second.stderr.decode()
    assert f"`ocis context use {host}`" in second.stderr.decode()      # the first is kept

    contexts = {c["name"]: c for c in story.json("context", "ls")}
    assert set(contexts) == {host, f"marie@{host}"}
    assert contexts[host]["user"] == "einstein" and not contexts[host]["current"]
    assert contexts[f"marie@{host}"]["user"] == "marie" and contexts[f"marie@{host}"]["current"]
    assert story.json("whoami")["user"] == "marie"

    story.run("context", "use", host)
    assert story.json("whoami")["user"] == "einstein"
    assert story.json("--context", f"marie@{host}", "whoami")["user"] == "marie"
    table = story.run("context", "ls").stdout.decode().splitlines()
    assert [line.split("\t")[:3] for line in table] == [
        ["*", host, "einstein"], ["", f"marie@{host}", "marie"]]

    # logging in again as einstein refreshes einstein's context, it does not add a third
    story.login(real_server.url, "einstein", "relativity")
    assert len(story.json("context", "ls")) == 2
    assert story.run("context", "use", "nobody@nowhere", expect=None).returncode == 10
