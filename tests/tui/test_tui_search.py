"""`F` and `/` + Enter search a whole space by name with the server's REPORT (as `ocis find`),
with Pilot against a real embedded server: the matches are listed by path, Enter goes to the
folder of the chosen one with the cursor on it, and the `@` log shows the `ocis find` line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocis_cli.client import Client
from ocis_tui.dialogs.prompt import PromptDialog
from ocis_tui.dialogs.search import SearchDialog

from .conftest import ready, wait_for
from .test_tui_browse import personal
from .test_tui_files import put, type_into_prompt


async def prepare(einstein: Client, tmp_path: Path) -> None:
    space = await personal(einstein)
    for folder in ("/docs", "/docs/deep", "/notes"):
        await einstein.webdav.mkcol(space, folder)
    for path in ("/docs/deep/report-2024.txt", "/notes/Report-old.md", "/other.txt"):
        await put(einstein, space, path, path.encode(), tmp_path)


async def test_find_goes_to_the_match(tui_app: Any, einstein: Client, tmp_path: Path) -> None:
    await prepare(einstein, tmp_path)
    app = tui_app()
    async with app.run_test(size=(120, 36)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "F")
        assert isinstance(app.screen, PromptDialog)
        await type_into_prompt(pilot, "report")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchDialog), what="the matches")
        dialog = app.screen
        assert isinstance(dialog, SearchDialog)
        assert [r.path for r in dialog.found] == ["/docs/deep/report-2024.txt",
                                                  "/notes/Report-old.md"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: browser.path == "/docs/deep" and browser.table.current
                       is not None and browser.table.current.name == "report-2024.txt",
                       what="the folder of the match")
        assert "ocis --context test find report" in browser.cli_log


async def test_filter_without_a_match_here_searches_the_space(tui_app: Any, einstein: Client,
                                                              tmp_path: Path) -> None:
    await prepare(einstein, tmp_path)
    app = tui_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("tab", "slash", *"old", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchDialog), what="the matches")
        assert [r.name for r in app.screen.found] == ["Report-old.md"]  # type: ignore[attr-defined]
        await pilot.press("escape")
        # A filter that matches here just narrows the folder, as before.
        await pilot.press("slash", *"other", "enter")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, SearchDialog)
