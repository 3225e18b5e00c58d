"""The TUI against a real embedded server, driven with Pilot: opening, navigation, filter, sort,
help, the command palette, the `@` log, polling, quitting."""

from __future__ import annotations

from typing import Any

from ocis_cli.client import Client
from ocis_tui.dialogs.text import HelpDialog, TextDialog
from ocis_tui.settings import TuiSettings
from ocis_tui.widgets.spaces import SpacesList

from .conftest import ready, wait_for


async def personal(client: Client) -> str:
    return next(d.id for d in await client.graph.my_drives() if d.drive_type == "personal")


async def test_opens_on_the_personal_space_and_q_exits_0(tui_app: Any, einstein: Client) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/docs")
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        assert isinstance(app.focused, SpacesList)
        assert "einstein@127.0.0.1" in browser.title
        assert browser.sub_title.startswith("Albert Einstein · 0 B / unlimited")
        assert [r.name for r in browser.table.shown] == ["docs"]
        await pilot.press("q")
    assert app.return_code == 0


async def test_vim_keys_walk_into_folders_and_back(tui_app: Any, einstein: Client) -> None:
    space = await personal(einstein)
    for folder in ("/a", "/b", "/b/inner", "/c"):
        await einstein.webdav.mkcol(space, folder)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab")                       # into the file list
        assert app.focused is browser.table
        await pilot.press("G")
        assert browser.table.current.name == "c"
        await pilot.press("g", "j")
        assert browser.table.current.name == "b"
        await pilot.press("l")
        await wait_for(pilot, lambda: browser.path == "/b", what="/b")
        assert [r.name for r in browser.table.shown] == ["inner"]
        await pilot.press("h")
        await wait_for(pilot, lambda: browser.path == "/", what="back at /")
        assert browser.table.current.name == "b"      # the cursor is where we left
        await pilot.press("right")                    # arrows work as l and h do
        await wait_for(pilot, lambda: browser.path == "/b", what="/b again")
        await pilot.press("left")
        await wait_for(pilot, lambda: browser.path == "/", what="back at / again")
        await pilot.press("k", "enter")
        await wait_for(pilot, lambda: browser.path == "/a", what="/a")
        await pilot.press("backspace", "backspace")   # at the root, up means the spaces list
        await wait_for(pilot, lambda: isinstance(app.focused, SpacesList), what="spaces focus")


async def test_filter_as_you_type_and_escape_clears(tui_app: Any, einstein: Client) -> None:
    space = await personal(einstein)
    for folder in ("/alpha", "/beta", "/alphabet"):
        await einstein.webdav.mkcol(space, folder)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "slash", "a", "l", "p")
        assert [r.name for r in browser.table.shown] == ["alpha", "alphabet"]
        await pilot.press("h", "a", "b")              # letters go to the filter, not to bindings
        assert [r.name for r in browser.table.shown] == ["alphabet"]
        await pilot.press("enter")
        assert app.focused is browser.table
        await pilot.press("escape")
        assert len(browser.table.shown) == 3


async def test_sort_by_size_and_modified(tui_app: Any, einstein: Client, tmp_path: Any) -> None:
    space = await personal(einstein)
    for name, size in (("small.txt", 10), ("big.txt", 5000), ("mid.txt", 300)):
        local = tmp_path / name
        local.write_bytes(b"x" * size)
        from ocis_cli.client.webdav import sha1_of_file

        await einstein.webdav.upload(space, "/" + name, local, sha1=sha1_of_file(local),
                                     mtime=1_700_000_000 + size)
    app = tui_app()
    async with app.run_test(size=(120, 36)) as pilot:
        browser = await ready(pilot)
        names = lambda: [r.name for r in browser.table.shown]
        assert names() == ["big.txt", "mid.txt", "small.txt"]
        await pilot.press("tab", "o")
        assert names() == ["big.txt", "mid.txt", "small.txt"]     # by size, largest first
        await pilot.press("o")
        assert names() == ["big.txt", "mid.txt", "small.txt"]     # newest first (mtime = size)
        await pilot.press("o")
        assert browser.table.sort_by == "name"


async def test_help_overlay_lists_remapped_keys(tui_app: Any, einstein: Client) -> None:
    app = tui_app(TuiSettings(keys={"delete": "x"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpDialog)
        body = app.screen.body
        assert "Download the marked files" in body and "Trash bin of this space" in body
        delete_line = next(line for line in body.splitlines() if "Delete the marked" in line)
        assert delete_line.split()[0] == "x"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpDialog)


async def test_cli_log_shows_the_equivalent_commands(tui_app: Any, einstein: Client) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/docs")
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "l")
        await wait_for(pilot, lambda: browser.path == "/docs", what="/docs")
        await pilot.press("at")
        assert isinstance(app.screen, TextDialog)
        assert app.screen.body.splitlines()[-1] == "ocis --context test ls /docs"


async def test_palette_jumps_to_a_project_space(tui_app: Any, server: Any) -> None:
    async with Client(server.url, user="admin", password="admin") as admin:
        drive = await admin.graph.create_drive("Physics")
        await admin.webdav.mkcol(drive.id, "/runs")
    app = tui_app(user="admin", password="admin")
    async with app.run_test(size=(120, 36)) as pilot:
        browser = await ready(pilot)
        spaces = browser.query_one(SpacesList)
        prompts = [str(spaces.get_option_at_index(i).prompt) for i in range(spaces.option_count)]
        assert prompts.index("Personal") < prompts.index("Projects") < prompts.index(" Physics")
        await pilot.press("colon")
        await pilot.press(*"space phys")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: browser.drive.name == "Physics"
                       and [r.name for r in browser.table.shown] == ["runs"], what="Physics")
        assert "Physics" in browser.sub_title


async def test_poll_reloads_when_the_space_changes(tui_app: Any, einstein: Client) -> None:
    from ocis_tui.remote import Identity, Remote

    remote = Remote(einstein, Identity("", "einstein", "", ""))
    assert await remote.poll_interval() == 60.0         # the capability's core.pollinterval
    space = await personal(einstein)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        browser.poll()
        await wait_for(pilot, lambda: browser.root_etag is not None, what="the first poll")
        assert browser.table.shown == []
        await einstein.webdav.mkcol(space, "/made-elsewhere")
        browser.poll()
        await wait_for(pilot, lambda: [r.name for r in browser.table.shown] == ["made-elsewhere"],
                       what="the reload after the etag changed")


async def test_unreachable_server_is_reported_not_fatal(tui_app: Any) -> None:
    from ocis_tui.app import make_app

    from .conftest import opener

    app = make_app(opener("http://127.0.0.1:9", "einstein", "x"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.browser.sub_title == "not connected", what="failure")
        assert any("cannot reach" in n.message for n in app._notifications)
        await pilot.press("q")
    assert app.return_code == 0


async def test_refresh_keeps_the_folder_and_updates_the_quota(tui_app: Any, einstein: Client,
                                                              tmp_path: Any) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/docs")
    app = tui_app()
    async with app.run_test(size=(120, 36)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "l")
        await wait_for(pilot, lambda: browser.path == "/docs", what="/docs")
        local = tmp_path / "new.txt"
        local.write_bytes(b"z" * 2048)
        from ocis_cli.client.webdav import sha1_of_file

        await einstein.webdav.upload(space, "/docs/new.txt", local, sha1=sha1_of_file(local),
                                     mtime=1_700_000_000)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: [r.name for r in browser.table.shown] == ["new.txt"],
                       what="the new file after ctrl+r")
        assert browser.path == "/docs"
        await wait_for(pilot, lambda: browser.sub_title.startswith("Albert Einstein · 2.0 KiB"),
                       what=f"the new quota (header: {browser.sub_title})")
