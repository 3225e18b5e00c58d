"""The issue's "done means", as keys a newcomer reads off the help overlay: find a file in a project
space, download it, change it, upload it as a new version, share it with a colleague."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocis_cli.client import Client
from ocis_cli.client.webdav import sha1_of_file
from ocis_tui.dialogs.share import ShareDialog
from ocis_tui.dialogs.text import HelpDialog
from ocis_tui.transfers import State

from .conftest import ready, wait_for
from .test_tui_files import type_into_prompt


async def test_find_download_and_upload_a_new_version(tui_app: Any, server: Any,
                                                      tmp_path: Path) -> None:
    async with Client(server.url, user="admin", password="admin") as admin:
        physics = await admin.graph.create_drive("Physics")
        for folder in ("/runs", "/papers", "/runs/2026"):
            await admin.webdav.mkcol(physics.id, folder)
        seed = tmp_path / "seed.csv"
        seed.write_text("t,x\n0,1\n")
        await admin.webdav.upload(physics.id, "/runs/2026/data.csv", seed,
                                  sha1=sha1_of_file(seed), mtime=1_700_000_000)
        app = tui_app(user="admin", password="admin")
        async with app.run_test(size=(80, 24)) as pilot:
            browser = await ready(pilot)
            await pilot.press("question_mark")          # the newcomer reads the keys first
            assert isinstance(app.screen, HelpDialog)
            help_body = app.screen.body
            for needed in ("Open the space or folder", "Filter as you type", "Download",
                           "Upload a local file here", "Share with a user or group"):
                assert needed in help_body
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is browser, what="the help to close")
            await pilot.press("j")                      # the Projects heading is skipped: Physics
            await wait_for(pilot, lambda: browser.drive.name == "Physics", what="Physics")
            await pilot.press("l")                      # into the space's files
            await wait_for(pilot, lambda: len(browser.table.shown) == 2, what="Physics root")
            await pilot.press("slash", "r", "u", "n", "enter", "l")
            await wait_for(pilot, lambda: browser.path == "/runs", what="/runs")
            await pilot.press("l")
            await wait_for(pilot, lambda: browser.path == "/runs/2026", what="/runs/2026")
            assert browser.table.current.name == "data.csv"

            await pilot.press("d")
            await type_into_prompt(pilot, str(tmp_path))
            down = app.transfers.items[-1]
            await wait_for(pilot, lambda: not down.active, what="download")
            assert down.state is State.DONE, down.error
            local = tmp_path / "data.csv"
            assert local.read_text() == "t,x\n0,1\n"

            local.write_text("t,x\n0,1\n1,4\n")
            await pilot.press("u")
            await type_into_prompt(pilot, str(local))
            up = app.transfers.items[-1]
            await wait_for(pilot, lambda: up.settled, what="upload")
            assert up.state is State.DONE, up.error
            await wait_for(pilot, lambda: browser.table.current is not None
                           and browser.table.current.size == len("t,x\n0,1\n1,4\n"),
                           what="the new size in the listing")
            assert browser.cli_log[-1] == (f"ocis --context test put {local} "
                                           "Physics:/runs/2026/data.csv")

            await pilot.press("s")                      # share it with a colleague: Einstein
            await wait_for(pilot, lambda: isinstance(app.screen, ShareDialog), what="sharing")
            await pilot.press(*"einst", "enter")
            await wait_for(pilot, lambda: app.screen.chosen is not None, what="the colleague")
            await pilot.press("enter")                  # the first role: viewer
            await wait_for(pilot, lambda: "share add" in browser.cli_log[-1], what="the share")
            assert browser.cli_log[-1] == ("ocis --context test share add "
                                           "Physics:/runs/2026/data.csv einstein --role viewer")
        current = await admin.webdav.stat(physics.id, "/runs/2026/data.csv")
        assert len(await admin.versions.list(current.id)) == 1   # the old content is a version
    async with Client(server.url, user="einstein", password="relativity") as einstein:
        received = await einstein.shares.received()
        assert [(s.path, s.role) for s in received] == [("/Shares/data.csv", "viewer")]
