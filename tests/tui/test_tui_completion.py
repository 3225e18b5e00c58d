"""Tab in the path prompts, against a real embedded server: the upload prompt completes local
paths, the move and copy prompts complete remote paths of the space on screen, and an ambiguous
start completes to what the choices share and lists them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocis_cli.client import Client
from ocis_tui.completion import complete_value, local_completer
from ocis_tui.dialogs.prompt import PromptDialog
from ocis_tui.transfers import State

from .conftest import ready, wait_for
from .test_tui_browse import personal
from .test_tui_files import put


async def _tab(pilot: Any, typed: str) -> str:
    """Type `typed` into the prompt on screen (as pasted), press Tab, return the new value."""
    prompt = pilot.app.screen
    assert isinstance(prompt, PromptDialog)
    box = prompt.query_one("Input")
    box.value = typed
    await pilot.press("tab")
    await wait_for(pilot, lambda: box.value != typed or
                   str(prompt.query_one("#choices").render()) != "", what="the completion")
    return str(box.value)


async def test_local_completion_in_the_upload_prompt(tui_app: Any, einstein: Client,
                                                     tmp_path: Path) -> None:
    local = tmp_path / "local"
    (local / "reports").mkdir(parents=True)
    (local / "reports" / "q3-summary.txt").write_bytes(b"q3")
    (local / "readme.txt").write_bytes(b"r")
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "u")
        assert await _tab(pilot, f"{local}/rep") == f"{local}/reports/"     # a folder: a /
        assert await _tab(pilot, f"{local}/reports/q") == f"{local}/reports/q3-summary.txt"
        prompt = app.screen
        assert await _tab(pilot, f"{local}/re") == f"{local}/re"             # two choices
        choices = str(prompt.query_one("#choices").render())
        assert "reports/" in choices and "readme.txt" in choices
        prompt.query_one("Input").value = f"{local}/reports/q3-summary.txt"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.transfers.items and app.transfers.items[0].settled,
                       what="the upload")
        assert app.transfers.items[0].state is State.DONE
        await wait_for(pilot, lambda: "q3-summary.txt" in [r.name for r in browser.table.shown],
                       what="the uploaded file")


async def test_remote_completion_in_move_and_copy(tui_app: Any, einstein: Client,
                                                  tmp_path: Path) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/archive")
    await einstein.webdav.mkcol(space, "/archive/2024")
    await put(einstein, space, "/a.txt", b"alpha", tmp_path)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "G")                 # a.txt comes after the folder
        assert browser.table.current is not None and browser.table.current.name == "a.txt"
        await pilot.press("y")                        # copy
        assert await _tab(pilot, "/arc") == "/archive/"
        assert await _tab(pilot, "/archive/2") == "/archive/2024/"
        await pilot.press("enter")                    # ends in /: keeps the name
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptDialog), what="copy")
        await wait_for(pilot, lambda: browser.cli_log and "cp" in browser.cli_log[-1],
                       what="the copy")
        assert (await einstein.webdav.stat(space, "/archive/2024/a.txt")).size == 5
        await pilot.press("G", "m")                   # move
        assert await _tab(pilot, "/ar") == "/archive/"
        prompt = app.screen
        prompt.query_one("Input").value = "/archive/moved.txt"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "a.txt" not in [r.name for r in browser.table.shown],
                       what="the move")
        assert browser.cli_log[-1].endswith("mv /a.txt /archive/moved.txt")
    assert (await einstein.webdav.stat(space, "/archive/moved.txt")).size == 5
    assert await einstein.webdav.exists(space, "/a.txt") is None


async def test_completion_rules(tmp_path: Path) -> None:
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data.txt").write_text("x")
    files = local_completer()
    folders = local_completer(folders_only=True)
    assert await files(f"{tmp_path}/d") == [f"{tmp_path}/data.txt", f"{tmp_path}/data/"]
    assert await folders(f"{tmp_path}/d") == [f"{tmp_path}/data/"]
    assert await files(f"{tmp_path}/") == [f"{tmp_path}/data.txt", f"{tmp_path}/data/"]
    assert await files(f"{tmp_path}/.h") == [f"{tmp_path}/.hidden/"]     # asked for: shown
    assert await files(f"{tmp_path}/nothing/x") == []
    assert complete_value("/a", ["/abc/", "/abd"]) == ("/ab", ["/abc/", "/abd"])
    assert complete_value("/a", []) == ("/a", [])
