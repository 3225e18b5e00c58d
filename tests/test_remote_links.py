"""`ocis remote`, the paris side of the OpenID path (docs/federation.md): Marie registers at paris
the WebDAV URL of the folder Einstein shared with marie@paris.test at zurich (zurich trusts
paris's IdP); it is listed among her spaces (type remote) and the SDK opens it at zurich with her
paris token: list, download, upload. Removing the entry leaves zurich's data alone; an unlisted
host, a bad URL, plain http without the INSECURE setting are refused; nobody else sees her
entries. Two real instances (tests/ocm_peers.py's zurich_trusting_paris)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_ocm_openid import Pair, rid
from test_cli_login import LiveCli, device_login
from test_oidc_trust import login_at

from ocis_cli.client import AuthError, Client, NotFound
from ocis_cli.client.bearer import BearerAuth
from ocis_cli.client.oidc import TokenSet
from ocis_cli.client.webdav import sha1_of_file
from ocis_cli.commands.spaces import remote_states, space_row
from ocis_cli.exitcodes import ExitCode
from ocis_server.domain import roles
from ocis_tui.remote import Identity, Remote
from ocis_tui.widgets.spaces import group_of
from ocis_server.runtime import EmbeddedServer
from ocis_server.sharing import federated_sent, rules
from ocm_peers import call, write_providers, zurich_trusting_paris

REMOTES = "/graph/v1.0/me/remotes"


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with zurich_trusting_paris(tmp_path) as both:
        yield both


async def signed_in(paris: EmbeddedServer, user: str, password: str) -> Client:
    tokens = await login_at(paris, user, password)
    token_set = TokenSet(access_token=tokens["access_token"], expires_at=time.time() + 300)
    return Client(paris.url, bearer=BearerAuth(token_set, token_endpoint=f"{paris.url}/konnect/"
                                               "v1/token", client_id="ocis-cli"))


async def einstein_shares_physics(zurich: EmbeddedServer) -> str:
    """Physics/a.txt shared with marie@paris.test as editor; the WebDAV URL of the share."""
    assert (await call(zurich, "MKCOL", "/remote.php/webdav/Physics", "einstein"))[0] == 201
    assert (await call(zurich, "PUT", "/remote.php/webdav/Physics/a.txt", "einstein",
                       data=b"alpha"))[0] == 201
    ctx = zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    node = await ctx.storage.lookup(einstein.id, ("Physics",))
    assert ctx.ocm is not None
    await federated_sent.create(ctx, einstein, node, await rules.access_to(ctx, einstein, node),
                                roles.EDITOR, "marie@paris.test", ctx.ocm)
    return f"{zurich.url}/dav/spaces/{await rid(zurich, 'Physics')}/"


async def test_marie_registers_lists_uses_and_removes_a_remote_space(
        pair: Pair, tmp_path: Path) -> None:
    zurich, paris = pair
    url = await einstein_shares_physics(zurich)
    async with await signed_in(paris, "marie", "radioactivity") as marie:
        entry = await marie.remotes.add(url, "Physics")
        assert (entry.name, entry.url, entry.provider) == ("Physics", url, "zurich.test")
        assert [e.id for e in await marie.remotes.list()] == [entry.id]
        assert await marie.remotes.check(entry) == ""

        drives = {d.name: d for d in await marie.graph.my_drives(shares=True)}
        assert drives["Physics"].drive_type == "remote"
        assert drives["Physics"].web_dav_url == url and drives["Physics"].owner_id == "zurich.test"
        assert "Physics" in {d.name for d in await marie.graph.my_drives()}     # v1.0 too

        space = drives["Physics"].id
        assert [r.name for r in await marie.webdav.propfind(space, "/")][1:] == ["a.txt"]
        # The TUI's spaces list shows it under Remote, and browses it.
        tui = Remote(marie, Identity(paris.url, "marie", "Marie", ""))
        shown = {d.name: d for d in await tui.drives()}
        assert group_of(shown["Physics"]) == "Remote"
        assert [r.name for r in await tui.listing(space, "/")] == ["a.txt"]
        sink = io.BytesIO()
        await marie.webdav.download(space, "/a.txt", sink)
        assert sink.getvalue() == b"alpha"
        local = tmp_path / "from-paris.txt"
        local.write_bytes(b"written at zurich by marie")
        await marie.webdav.upload(space, "/from-paris.txt", local, sha1=sha1_of_file(local),
                                  mtime=1)
        assert await call(zurich, "GET", "/remote.php/webdav/Physics/from-paris.txt",
                          "einstein") == (200, "written at zurich by marie")

        # Nobody else sees her entry, nor can remove it.
        assert (await call(paris, "GET", REMOTES, "richard"))[1] == {"value": []}
        assert (await call(paris, "DELETE", f"{REMOTES}/{entry.id}", "richard"))[0] == 404
        status, body = await call(paris, "GET", "/graph/v1beta1/me/drives", "richard")
        assert status == 200 and "Physics" not in {d["name"] for d in body["value"]}

        await marie.remotes.remove(entry.id)
        assert await marie.remotes.list() == []
        assert "Physics" not in {d.name for d in await marie.graph.my_drives(shares=True)}
        try:
            await marie.remotes.remove(entry.id)
            raise AssertionError("removed twice")
        except NotFound:
            pass
    # zurich's data is untouched.
    assert await call(zurich, "GET", "/remote.php/webdav/Physics/a.txt", "einstein") == (
        200, "alpha")


async def test_bad_and_unlisted_urls_are_refused(pair: Pair) -> None:
    zurich, paris = pair
    url = await einstein_shares_physics(zurich)
    space = url.split("/dav/spaces/")[1]
    bad = {
        "https://evil.test/dav/spaces/x/": "providers file",
        "http://127.0.0.2:9/dav/spaces/x/": "providers file",
        f"{zurich.url}/remote.php/webdav/Physics/": "WebDAV space URL",
        f"{zurich.url}/dav/spaces/": "WebDAV space URL",
        f"{zurich.url}/dav/spaces/{space}/sub/": "WebDAV space URL",
        f"{zurich.url}/dav/spaces/%2e%2e/": "'..'",
        f"{zurich.url}/dav/spaces/{space}/?x=1": "query",
        "not a url": "absolute",
        "ftp://zurich.test/dav/spaces/x/": "absolute",
        f"{paris.url}/dav/spaces/x/": "providers file",        # our own server is no remote
    }
    for candidate, reason in bad.items():
        status, body = await call(paris, "POST", REMOTES, "marie", json={"url": candidate})
        assert status == 400, (candidate, status, body)
        assert reason in body["error"]["message"], (candidate, body)
    for body in ({}, {"url": 5}, {"url": url, "name": "a/b"}, {"url": url, "name": " "}):
        assert (await call(paris, "POST", REMOTES, "marie", json=body))[0] == 400
    assert (await call(paris, "POST", REMOTES, "marie", data=b"{"))[0] == 400
    assert (await call(paris, "POST", REMOTES, "marie", json={"url": url}))[0] == 201
    status, body = await call(paris, "POST", REMOTES, "marie", json={"url": url, "name": "x"})
    assert status == 409 and "already registered" in body["error"]["message"]
    assert (await call(paris, "POST", REMOTES, None, json={"url": url}))[0] == 401
    # A password sign-in never sends her password to zurich: using the space needs a token.
    async with Client(paris.url, user="marie", password="radioactivity") as marie:
        drive = next(d for d in await marie.graph.my_drives() if d.drive_type == "remote")
        try:
            await marie.webdav.propfind(drive.id, "/")
            raise AssertionError("used with a password")
        except AuthError as exc:
            assert "ocis login" in str(exc)


async def test_a_token_zurich_does_not_accept_shows_unreachable(pair: Pair) -> None:
    zurich, paris = pair
    url = await einstein_shares_physics(zurich)
    async with await signed_in(paris, "richard", "superfluidity") as richard:
        entry = await richard.remotes.add(url, "Physics")      # listed, but not shared with him
        why = await richard.remotes.check(entry)
        assert "not found" in why.lower(), why


async def test_plain_http_needs_the_insecure_setting(tmp_path: Path) -> None:
    # paris allows plain http to loopback storage URLs only with the INSECURE setting
    async with zurich_trusting_paris(tmp_path, OCM_OCM_STORAGE_PROVIDER_INSECURE="false") as (
            zurich, paris):
        url = f"{zurich.url}/dav/spaces/x$y!z/"
        status, body = await call(paris, "POST", REMOTES, "marie", json={"url": url})
        assert status == 400 and "plain http" in body["error"]["message"], body
        assert (await call(paris, "GET", REMOTES, "marie"))[1] == {"value": []}


@pytest.mark.slow
async def test_the_cli_registers_lists_uses_and_removes_it(pair: Pair, tmp_path: Path) -> None:
    """The real `ocis` signed in at paris with OpenID Connect (device flow): `remote add` opens
    the URL with her token first, `spaces ls` shows it, `ls`/`get`/`put` go to zurich."""
    zurich, paris = pair
    url = await einstein_shares_physics(zurich)
    private = f"{zurich.url}/dav/spaces/{await rid(zurich, 'Physics', 'a.txt')}x/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIS_")}
    cli = LiveCli(env, tmp_path)
    await asyncio.to_thread(device_login, cli, paris.url, "paris", "marie", "radioactivity")

    def run(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return cli.run(*args, expect=expect)

    refused = await asyncio.to_thread(run, "remote", "add", private, expect=ExitCode.FAILURE)
    assert "cannot open it with your token" in refused.stderr
    refused = await asyncio.to_thread(run, "remote", "add", "https://evil.test/dav/spaces/x/",
                                      expect=None)
    assert refused.returncode != 0 and "providers file" in refused.stderr
    assert json.loads((await asyncio.to_thread(run, "remote", "ls", "-o", "json")).stdout) == []

    added = await asyncio.to_thread(run, "remote", "add", url, "--name", "Physics")
    assert "Physics" in added.stdout
    listed = json.loads((await asyncio.to_thread(run, "remote", "ls", "-o", "json")).stdout)
    assert [(e["name"], e["url"], e["status"]) for e in listed] == [("Physics", url, "reachable")]
    table = (await asyncio.to_thread(run, "spaces", "ls", "-o", "wide")).stdout
    rows = {line.split("\t")[0]: line.split("\t") for line in table.splitlines()}
    assert rows["Physics"][1:3] == ["remote", "zurich.test"] and rows["Physics"][-1] == url
    assert (await asyncio.to_thread(run, "ls", "Physics:/")).stdout.split() == ["a.txt"]
    got = await asyncio.to_thread(run, "get", "Physics:/a.txt", "-")
    assert got.stdout == "alpha"
    local = tmp_path / "note.txt"
    local.write_text("from the CLI")
    await asyncio.to_thread(run, "put", str(local), "Physics:/")
    assert await call(zurich, "GET", "/remote.php/webdav/Physics/note.txt", "einstein") == (
        200, "from the CLI")

    await asyncio.to_thread(run, "remote", "rm", "Physics")
    assert json.loads((await asyncio.to_thread(run, "remote", "ls", "-o", "json")).stdout) == []
    assert "Physics" not in (await asyncio.to_thread(run, "spaces", "ls")).stdout
    assert await call(zurich, "GET", "/remote.php/webdav/Physics/a.txt", "einstein") == (
        200, "alpha")


async def test_a_server_that_does_not_answer_is_listed_unreachable(pair: Pair) -> None:
    _, paris = pair
    with socket.socket() as probe:          # a port nobody listens on, listed as zurich.test
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    write_providers(Path(paris.config.ocm_providers_file), {"zurich.test": down})
    url = f"{down}/dav/spaces/a$b!c/"
    async with await signed_in(paris, "marie", "radioactivity") as marie:
        entry = await marie.remotes.add(url, "Gone")
        assert "cannot reach" in await marie.remotes.check(entry)
        drives = await marie.graph.my_drives(shares=True)       # the listing itself still works
        gone = next(d for d in drives if d.name == "Gone")
        states = await remote_states(marie, drives)
        assert space_row(gone, "", states.get(gone.id, ""))[:3] == [
            "Gone", "remote (unreachable)", "zurich.test"]
