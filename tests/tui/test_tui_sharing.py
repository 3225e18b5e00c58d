"""The TUI's sharing screens against a real embedded server, driven with Pilot: the share dialog
(`s`: sharee completion, roles valid for the item, removing a share), shared-with-me (`S` and the
pending entry: accept, decline), the link dialog (`L`), read-only mode and the `@` command lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList

from ocis_cli.client import Client, Resource
from ocis_cli.client.shares import Sharee, ShareInfo
from ocis_server.runtime import embedded_server, make_test_config
from ocis_tui.app import make_app
from ocis_tui.dialogs.link import LinkDialog, parse_expiry
from ocis_tui.dialogs.received import ReceivedDialog
from ocis_tui.dialogs.share import ShareDialog
from ocis_tui.dialogs.text import TextDialog
from ocis_tui.settings import TuiSettings
from ocis_tui.sharing import link_types_for, offered_roles, roles_for
from ocis_tui.widgets.spaces import SpacesList

from .conftest import opener, ready, wait_for
from .fakes import FakeRemote


async def personal(client: Client) -> str:
    return next(d.id for d in await client.graph.my_drives() if d.drive_type == "personal")


async def item(client: Client, path: str) -> Resource:
    return await client.webdav.stat(await personal(client), path)


async def open_dialog(pilot: Any, key: str, kind: type) -> Any:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), what=kind.__name__)
    await pilot.pause()
    return pilot.app.screen


def options(screen: Any, selector: str) -> list[str]:
    box = screen.query_one(selector, OptionList)
    return [str(box.get_option_at_index(i).prompt) for i in range(box.option_count)]


# --- the share dialog --------------------------------------------------------------------------

async def test_share_a_folder_by_typing_part_of_a_name(tui_app: Any, einstein: Client) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/docs")
    app = tui_app()
    async with app.run_test(size=(100, 30)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab")
        dialog = await open_dialog(pilot, "s", ShareDialog)
        assert [o.split()[0] for o in options(dialog, "#roles")] == ["viewer", "editor", "uploader"]
        await pilot.press(*"curi")                    # marie's display name: Marie Curie
        await wait_for(pilot, lambda: dialog.matches, what="sharee matches")
        assert [m.name for m in dialog.matches] == ["marie"]
        assert "Marie Curie (marie)" in options(dialog, "#matches")[0]
        await pilot.press("enter")                    # the first match, then the roles
        await wait_for(pilot, lambda: dialog.chosen is not None, what="recipient chosen")
        assert app.focused is dialog.query_one("#roles")
        await pilot.press("down", "enter")            # editor
        docs = await item(einstein, "/docs")
        await wait_for(pilot, lambda: not isinstance(app.screen, ShareDialog), what="closed")
        await wait_for(pilot, lambda: any("share add" in c for c in browser.cli_log),
                       what="the share")
        shares = await einstein.shares.list_mine(item_id=docs.id)
        assert [(s.recipient, s.role) for s in shares] == [("marie", "editor")]
        assert browser.cli_log[-1] == "ocis --context test share add /docs marie --role editor"
        await pilot.press("at")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog), what="@ log")
        assert "share add /docs marie --role editor" in str(
            app.screen.query_one("#body").render())


async def test_inline_completion_and_a_file_gets_file_roles(tui_app: Any, einstein: Client,
                                                            tmp_path: Path) -> None:
    await put(einstein, "/notes.txt", tmp_path)
    app = tui_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("tab")
        dialog = await open_dialog(pilot, "s", ShareDialog)
        assert [o.split()[0] for o in options(dialog, "#roles")] == ["viewer", "file-editor"]
        await pilot.press(*"mar")
        box = dialog.query_one("#recipient", Input)
        await wait_for(pilot, lambda: box._suggestion == "marie", what="inline suggestion")
        await pilot.press("right")                    # accept the suggestion
        assert box.value == "marie"
        await pilot.press("enter")
        await wait_for(pilot, lambda: dialog.chosen is not None, what="recipient chosen")
        await pilot.press("down", "enter")            # file-editor
        await wait_for(pilot, lambda: any("share add" in c for c in app.browser.cli_log),
                       what="the share")
        notes = await item(einstein, "/notes.txt")
        shares = await einstein.shares.list_mine(item_id=notes.id)
        assert [(s.recipient, s.role) for s in shares] == [("marie", "file-editor")]


async def put(client: Client, path: str, tmp_path: Path) -> None:
    from ocis_cli.client.webdav import sha1_of_file

    local = tmp_path / "upload.bin"
    local.write_bytes(b"hello")
    await client.webdav.upload(await personal(client), path, local, sha1=sha1_of_file(local),
                               mtime=1_700_000_000)


async def test_unknown_recipient_and_no_role_before_recipient(tui_app: Any,
                                                              einstein: Client) -> None:
    await einstein.webdav.mkcol(await personal(einstein), "/docs")
    app = tui_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("tab")
        dialog = await open_dialog(pilot, "s", ShareDialog)
        await pilot.press(*"nobodyhere", "enter")
        await wait_for(pilot, lambda: "no user or group" in str(
            dialog.query_one("#error").render()), what="the error")
        assert dialog.chosen is None
        dialog.query_one("#roles", OptionList).focus()
        await pilot.press("enter")
        assert "choose a recipient first" in str(dialog.query_one("#error").render())
        assert isinstance(app.screen, ShareDialog)
        await pilot.press("escape")
        assert not isinstance(app.screen, ShareDialog)
    docs = await item(einstein, "/docs")
    assert await einstein.shares.list_mine(item_id=docs.id) == []


async def test_share_with_a_group_and_remove_it(tui_app: Any, einstein: Client,
                                                server: Any) -> None:
    async with Client(server.url, user="moss", password="vista") as admin:
        await admin.users.create_group("string-theorists")
        await admin.users.add_member("string-theorists", "richard")
    await einstein.webdav.mkcol(await personal(einstein), "/docs")
    docs = await item(einstein, "/docs")
    await einstein.shares.create(docs.id, "marie", role="viewer")
    app = tui_app()
    async with app.run_test(size=(100, 30)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab")
        dialog = await open_dialog(pilot, "s", ShareDialog)
        assert options(dialog, "#existing") == ["Marie Curie (marie) · viewer"]
        await pilot.press(*"group:string-theorists", "enter")
        await wait_for(pilot, lambda: dialog.chosen is not None, what="the group")
        assert dialog.chosen.kind == "group"
        await pilot.press("enter")                    # viewer
        await wait_for(pilot, lambda: any("share add" in c for c in browser.cli_log),
                       what="the group share")
        assert browser.cli_log[-1].endswith("share add /docs group:string-theorists --role viewer")
        dialog = await open_dialog(pilot, "s", ShareDialog)
        dialog.query_one("#existing", OptionList).focus()
        await pilot.press("x")                        # the first: the group, then marie
        await wait_for(pilot, lambda: "share rm" in browser.cli_log[-1], what="removed")
    left = await einstein.shares.list_mine(item_id=docs.id)
    assert len(left) == 1


async def test_readonly_and_no_share_permission(tui_app: Any, einstein: Client) -> None:
    await einstein.webdav.mkcol(await personal(einstein), "/docs")
    app = tui_app(TuiSettings(readonly=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("tab", "s")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ShareDialog)
        await pilot.press("L")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, LinkDialog)


def res(perms: str, folder: bool) -> Resource:
    return Resource(path="/x", name="x", is_folder=folder, size=0, mtime=None, etag="", id="i",
                    permissions=perms)


def test_roles_and_link_types_follow_the_item_and_what_the_user_holds() -> None:
    assert [r.name for r in roles_for(res("RDNVCK", True))] == ["viewer", "editor", "uploader"]
    assert [r.name for r in roles_for(res("RDNVW", False))] == ["viewer", "file-editor"]
    assert [r.name for r in roles_for(res("R", True))] == ["viewer"]    # read-only: view only
    assert [t for t, _ in link_types_for(res("RDNVCK", True))] == [
        "view", "upload", "edit", "file-drop", "internal"]
    assert [t for t, _ in link_types_for(res("RDNVW", False))] == ["view", "edit", "internal"]
    assert [t for t, _ in link_types_for(res("R", True))] == ["view", "internal"]


def test_the_server_narrows_the_roles_offered() -> None:
    folder = res("RDNVCK", True)
    viewer, uploader = "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5", "1c996275-f1c9-4e71-abdf-a42f6495e960"
    assert [r.name for r in offered_roles(folder, None)] == ["viewer", "editor", "uploader"]
    assert [r.name for r in offered_roles(folder, [viewer, uploader, "unknown-id"])] == [
        "viewer", "uploader"]
    assert offered_roles(res("R", True), [uploader]) == []     # never more than the user holds


async def test_the_roles_are_the_ones_the_server_allows(server: Any, einstein: Client) -> None:
    from ocis_tui.remote import Remote, whoami

    await einstein.webdav.mkcol(await personal(einstein), "/docs")
    remote = Remote(einstein, await whoami(einstein, server.url, "test"))
    allowed = await remote.allowed_roles(await item(einstein, "/docs"))
    assert allowed is not None and "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5" in allowed
    assert "2d00ce52-1fc2-4dbc-8b95-a73b73395f5a" not in allowed   # file editor: files only


def test_link_expiry_parsing() -> None:
    from datetime import date

    today = date(2026, 3, 14)
    assert parse_expiry("", today) == ("", 0)
    assert parse_expiry("7", today) == ("2026-03-21", 7)
    assert parse_expiry("7d", today) == ("2026-03-21", 7)
    assert parse_expiry("2026-04-01", today) == ("2026-04-01", 18)
    for bad in ("0", "yesterday", "2026-03-14"):
        with pytest.raises(ValueError):
            parse_expiry(bad, today)


# --- shared with me: pending shares ------------------------------------------------------------

@pytest.fixture
async def pending_server(tmp_path: Path) -> AsyncIterator[Any]:
    config = make_test_config(tmp_path / "srv", FRONTEND_AUTO_ACCEPT_SHARES="false")
    async with embedded_server(config) as srv:
        yield srv


async def test_pending_shares_accept_and_decline(pending_server: Any) -> None:
    async with Client(pending_server.url, user="einstein", password="relativity") as einstein:
        space = await personal(einstein)
        for folder in ("/physics", "/private"):
            await einstein.webdav.mkcol(space, folder)
            node = await einstein.webdav.stat(space, folder)
            await einstein.shares.create(node.id, "marie", role="viewer")
    app = make_app(opener(pending_server.url, "marie", "radioactivity"))
    async with Client(pending_server.url, user="marie", password="radioactivity") as marie:
        async with app.run_test(size=(100, 30)) as pilot:
            browser = await ready(pilot)
            spaces = browser.query_one(SpacesList)
            await wait_for(pilot, lambda: spaces.pending == 2, what="2 pending")
            assert any("2 pending" in str(spaces.get_option_at_index(i).prompt)
                       for i in range(spaces.option_count))
            dialog = await open_dialog(pilot, "S", ReceivedDialog)
            table = dialog.query_one(DataTable)
            assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
                "physics/", "private/"]
            assert [table.get_row_at(i)[3] for i in range(2)] == ["pending", "pending"]
            await pilot.press("a")                             # accept physics
            await wait_for(pilot, lambda: "share accept" in (browser.cli_log or [""])[-1],
                           what="accepted")
            await wait_for(pilot, lambda: spaces.pending == 1, what="1 pending")
            await wait_for(pilot, lambda: any(d.name == "physics" and d.drive_type == "mountpoint"
                                              for d in spaces.drives.values()),
                           what="the accepted share as a space")
            # the pending entry in the spaces list opens the same dialog
            spaces.focus()
            spaces.highlighted = next(i for i in range(spaces.option_count)
                                      if spaces.get_option_at_index(i).id == "pending:")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ReceivedDialog), what="dialog")
            dialog = app.screen
            await pilot.pause()
            table = dialog.query_one(DataTable)
            assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
                "private/", "physics/"]                       # pending first
            await pilot.press("x")                             # decline private
            await wait_for(pilot, lambda: "share decline" in browser.cli_log[-1], what="declined")
            await wait_for(pilot, lambda: spaces.pending == 0, what="none pending")
            dialog = await open_dialog(pilot, "S", ReceivedDialog)
            assert dialog.query_one(DataTable).get_row_at(0)[0] == "physics/"
            await pilot.press("h")                             # hide physics
            await wait_for(pilot, lambda: "share hide" in browser.cli_log[-1], what="hidden")
        states = {s.path.rsplit("/", 1)[-1]: (s.state, s.hidden)
                  for s in await marie.shares.received()}
        assert states == {"physics": ("accepted", True), "private": ("declined", False)}
        ids = {s.path.rsplit("/", 1)[-1]: s.id for s in await marie.shares.received()}
        assert f"ocis --context test share accept {ids['physics']}" in browser.cli_log


async def test_a_recipient_browses_a_share_but_cannot_reshare_it(server: Any,
                                                                einstein: Client) -> None:
    space = await personal(einstein)
    for folder in ("/docs", "/docs/inner"):
        await einstein.webdav.mkcol(space, folder)
    await einstein.shares.create((await item(einstein, "/docs")).id, "marie", role="editor")
    app = make_app(opener(server.url, "marie", "radioactivity"))
    async with app.run_test(size=(100, 30)) as pilot:
        browser = await ready(pilot)
        spaces = browser.query_one(SpacesList)
        mount = next(d for d in spaces.drives.values() if d.drive_type == "mountpoint")
        assert mount.name == "docs"
        browser.open_drive(mount)
        await wait_for(pilot, lambda: browser.drive is mount and browser.table.shown,
                       what="the share's listing")
        assert [r.name for r in browser.table.shown] == ["inner"]
        await pilot.press("s")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ShareDialog)
        assert any("may not share inner" in n.message for n in app._notifications)


# --- public links --------------------------------------------------------------------------------

async def test_link_dialog_creates_a_link_and_shows_its_url(tui_app: Any, einstein: Client,
                                                            server: Any) -> None:
    await einstein.webdav.mkcol(await personal(einstein), "/docs")
    app = tui_app()
    async with app.run_test(size=(100, 30)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab")
        dialog = await open_dialog(pilot, "L", LinkDialog)
        assert [o.split()[0] for o in options(dialog, "#types")] == [
            "view", "upload", "edit", "file-drop", "internal"]
        await pilot.press("tab", *"Secret123!", "tab", *"7d", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog)
                       or "Link for" in str([n.message for n in app._notifications]),
                       what="the link or an error")
        assert isinstance(app.screen, TextDialog), [n.message for n in app._notifications]
        body = str(app.screen.query_one("#body").render())
        docs = await item(einstein, "/docs")
        links = await einstein.shares.list_links(item_id=docs.id)
        assert len(links) == 1 and links[0].link_type == "view"
        assert links[0].url.startswith(server.url.rstrip("/") + "/s/")
        assert links[0].url in body and "password protected" in body
        assert browser.cli_log[-1] == ("ocis --context test link create /docs --type view "
                                       "--password-from-env --expire 7d")
        assert "Secret123!" not in "\n".join(browser.cli_log)
        await pilot.press("escape")
        dialog = await open_dialog(pilot, "L", LinkDialog)
        assert options(dialog, "#links")[0].startswith(f"view       {links[0].url}")
        dialog.query_one("#links", OptionList).focus()
        await pilot.press("x")
        await wait_for(pilot, lambda: "link rm" in browser.cli_log[-1], what="link removed")
        assert browser.cli_log[-1] == f"ocis --context test link rm {links[0].id}"
    assert await einstein.shares.list_links(item_id=docs.id) == []


# --- snapshots of the sharing dialogs (no network: the fake remote) --------------------------------

def _record(**fields: Any) -> dict[str, Any]:
    base = {"id": "s1", "share_type": 0, "uid_owner": "einstein", "permissions": 1,
            "path": "/Photos", "item_type": "folder", "share_with": "marie",
            "share_with_displayname": "Marie Curie", "state": 0, "expiration": ""}
    return {**base, **fields}


class SharingFake(FakeRemote):
    """The snapshot fake plus shares: one share and one link on every item, two received shares
    (one pending), two sharees."""

    async def item_shares(self, res: Resource) -> list[ShareInfo]:
        link = _record(id="l1", share_type=3, share_with="",
                       url="https://cloud.example.com/s/AbCdEfGhIjKlMnO")
        return [ShareInfo.from_ocs(_record()), ShareInfo.from_ocs(link)]

    async def allowed_roles(self, res: Resource) -> list[str] | None:
        return None

    async def sharees(self, term: str) -> list[Sharee]:
        return [Sharee("user", "marie", "Marie Curie", "marie@example.org", True),
                Sharee("group", "marine-biology", "marine-biology", "", False)]

    async def received(self) -> list[ShareInfo]:
        return [ShareInfo.from_ocs(_record(id="r1", path="/Shares/lab-notes", state=1,
                                           uid_owner="richard", share_with="einstein")),
                ShareInfo.from_ocs(_record(id="r2", path="/Shares/slides.odp", item_type="file",
                                           permissions=3, uid_owner="marie",
                                           share_with="einstein"))]


def sharing_app(settings: TuiSettings | None = None) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_remote() -> AsyncIterator[Any]:
        yield SharingFake()

    return make_app(open_remote, settings)


async def _loaded(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.browser.drive and app.browser.table.shown
                   and not app.browser.table.loading, what="the listing")
    await wait_for(pilot, lambda: app.browser.query_one(SpacesList).pending == 1,
                   what="the pending count")
    await pilot.pause()


@pytest.fixture
def no_color_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_share_dialog_snapshot(snap_compare: Any, no_color_unset: None) -> None:
    async def run(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("tab", "j", "s")            # Photos
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ShareDialog), what="dialog")
        await pilot.press(*"mar")
        await wait_for(pilot, lambda: len(pilot.app.screen.matches) == 2, what="matches")
        await pilot.pause(0.2)

    assert snap_compare(sharing_app(), terminal_size=(80, 24), run_before=run)


def test_received_dialog_snapshot(snap_compare: Any, no_color_unset: None) -> None:
    async def run(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReceivedDialog),
                       what="dialog")
        await pilot.pause()

    assert snap_compare(sharing_app(), terminal_size=(80, 24), run_before=run)


def test_link_dialog_snapshot(snap_compare: Any, no_color_unset: None) -> None:
    async def run(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("tab", "j", "L")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LinkDialog), what="dialog")
        await pilot.pause()

    assert snap_compare(sharing_app(), terminal_size=(80, 24), run_before=run)


async def test_link_dialog_refuses_a_bad_expiry() -> None:
    app = sharing_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot)
        await pilot.press("tab", "j", "L")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkDialog), what="dialog")
        await pilot.press("tab", "tab", *"yesterday", "enter")
        assert isinstance(app.screen, LinkDialog)
        assert "expiry" in str(app.screen.query_one("#error").render())


async def test_readonly_lists_received_shares_but_does_not_answer() -> None:
    app = sharing_app(TuiSettings(readonly=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, ReceivedDialog), what="dialog")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ReceivedDialog)      # still open: nothing was sent
        assert "a: accept" not in str(app.screen.query_one(".hint").render())


def test_pending_entry_in_the_spaces_list_snapshot(snap_compare: Any,
                                                   no_color_unset: None) -> None:
    assert snap_compare(sharing_app(), terminal_size=(80, 24), run_before=_loaded)
