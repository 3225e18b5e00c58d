"""File operations in the TUI against a real embedded server: upload and download with progress,
delete (confirm, default No), new folder, rename, trash restore, read-only mode, preview, quitting
while a transfer runs."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Self

from ocis_cli.client import Client, NotFound
from ocis_cli.client.webdav import sha1_of_file
from ocis_tui.dialogs.confirm import ConfirmDialog
from ocis_tui.dialogs.prompt import PromptDialog
from ocis_tui.dialogs.trash import TrashDialog
from ocis_tui.settings import TuiSettings
from ocis_tui.transfers import State, Transfer
from ocis_tui.widgets.preview import PreviewPane

from .conftest import ready, wait_for
from .test_tui_browse import personal


async def put(client: Client, space: str, path: str, data: bytes, tmp: Path) -> None:
    local = tmp / hashlib.sha1(path.encode()).hexdigest()
    local.write_bytes(data)
    await client.webdav.upload(space, path, local, sha1=sha1_of_file(local), mtime=1_700_000_000)


async def type_into_prompt(pilot: Any, text: str) -> None:
    """Answer the prompt on screen: short answers key by key, long paths pasted (Pilot spends
    a frame per key), then Enter."""
    prompt = pilot.app.screen
    assert isinstance(prompt, PromptDialog)
    box = prompt.query_one("Input")
    box.value = "" if len(text) <= 12 else text
    if len(text) <= 12:
        await pilot.press(*text)
    await pilot.press("enter")


async def test_upload_and_download_with_progress(tui_app: Any, einstein: Client,
                                                 tmp_path: Path, monkeypatch: Any) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/docs")
    local = tmp_path / "data.bin"
    local.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    seen: list[tuple[str, int]] = []
    original = Transfer.update

    def update(self: Transfer, done: int) -> None:
        seen.append((self.direction, done))
        original(self, done)

    monkeypatch.setattr(Transfer, "update", update)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "l")
        await wait_for(pilot, lambda: browser.path == "/docs", what="/docs")
        quota_before = browser.sub_title
        await pilot.press("u")
        await type_into_prompt(pilot, str(local))
        item = app.transfers.items[0]
        await wait_for(pilot, lambda: item.settled, what="upload")
        assert item.state is State.DONE, item.error
        # the header's and the spaces list's quota follow the upload, without a manual refresh
        await wait_for(pilot, lambda: "3.0 MiB" in browser.sub_title,
                       what=f"the quota after the upload (was {quota_before!r})")
        assert "3.0 MiB" in str(browser.query_one("#spaces").border_subtitle)
        ups = [n for d, n in seen if d == "upload"]
        assert len(set(ups)) > 2 and ups == sorted(ups)    # progress reported along the way
        await wait_for(pilot, lambda: [r.name for r in browser.table.shown] == ["data.bin"],
                       what="the listing after the upload")
        assert (await einstein.webdav.stat(space, "/docs/data.bin")).size == local.stat().st_size
        assert browser.query_one("#transfers").has_class("shown")

        target = tmp_path / "down"
        target.mkdir()
        await pilot.press("d")
        await type_into_prompt(pilot, str(target))
        down = app.transfers.items[1]
        await wait_for(pilot, lambda: not down.active, what="download")
        assert down.state is State.DONE, down.error
        downs = [n for d, n in seen if d == "download"]
        assert len(set(downs)) > 2 and downs[-1] == local.stat().st_size
        assert (target / "data.bin").read_bytes() == local.read_bytes()
        assert not [p for p in target.iterdir() if p.name.endswith(".part")]
        assert browser.cli_log[-1] == f"ocis --context test get /docs/data.bin {target}/data.bin"


async def test_ui_answers_while_a_transfer_runs_and_q_asks(tui_app: Any, einstein: Client,
                                                           tmp_path: Path, monkeypatch: Any) -> None:
    space = await personal(einstein)
    for name in ("/a", "/b", "/c"):
        await einstein.webdav.mkcol(space, name)
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(8 * 1024 * 1024))
    # A slow disk (each read of the upload sleeps in its thread): the transfer stays in flight
    # long enough to use the UI meanwhile, whatever the machine's speed.
    from ocis_cli.client import tus

    real_read = tus._pread_exact

    def slow_read(fd: int, length: int, offset: int) -> bytes:
        time.sleep(0.3)
        return real_read(fd, length, offset)

    monkeypatch.setattr(tus, "_pread_exact", slow_read)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "u")
        await type_into_prompt(pilot, str(local))
        item = app.transfers.items[0]
        await wait_for(pilot, lambda: item.done > 0, what="the upload to start")
        await pilot.press("j", "j")
        assert browser.table.current.name == "c"       # keys work while bytes flow
        assert item.active
        await pilot.press("q")                         # transfers run: it asks, default No
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        assert app.return_code is None and item.active
        await pilot.press("c")                         # cancel: clean, reported
        await wait_for(pilot, lambda: item.state is State.CANCELLED, what="cancel")
        await pilot.press("q")
    assert app.return_code == 0
    assert await einstein.webdav.exists(space, "/big.bin") is None


async def test_delete_defaults_to_no_then_y_deletes_and_trash_restores(
        tui_app: Any, einstein: Client, tmp_path: Path) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/keep.txt", b"precious", tmp_path)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "D")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")                     # the default button is No
        await pilot.pause(0.3)
        assert await einstein.webdav.exists(space, "/keep.txt") is not None
        await pilot.press("D", "y")
        await wait_for(pilot, lambda: browser.table.shown == [], what="the listing after delete")
        assert await einstein.webdav.exists(space, "/keep.txt") is None
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TrashDialog), what="the trash dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: [r.name for r in browser.table.shown] == ["keep.txt"],
                       what="the restored file")
    await einstein.webdav.stat(space, "/keep.txt")


async def test_new_folder_rename_and_marks(tui_app: Any, einstein: Client, tmp_path: Path) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/one.txt", b"1", tmp_path)
    await put(einstein, space, "/two.txt", b"2", tmp_path)
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "n")
        await type_into_prompt(pilot, "bad/name")
        assert isinstance(app.screen, PromptDialog)    # refused in place, with the reason
        await type_into_prompt(pilot, "fresh")
        await wait_for(pilot, lambda: "fresh" in [r.name for r in browser.table.shown],
                       what="the new folder")
        assert (await einstein.webdav.stat(space, "/fresh")).is_folder
        await pilot.press("G", "r")
        await type_into_prompt(pilot, "zwei.txt")
        await wait_for(pilot, lambda: "zwei.txt" in [r.name for r in browser.table.shown],
                       what="the renamed file")
        await pilot.press("g", "j", "space", "space")  # mark one.txt and zwei.txt
        assert browser.table.marked == {"/one.txt", "/zwei.txt"}
        await pilot.press("D", "y")
        await wait_for(pilot, lambda: [r.name for r in browser.table.shown] == ["fresh"],
                       what="both marked files deleted")
    for gone in ("/one.txt", "/zwei.txt", "/two.txt"):
        assert await einstein.webdav.exists(space, gone) is None


async def test_readonly_refuses_changes(tui_app: Any, einstein: Client, tmp_path: Path) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/a.txt", b"a", tmp_path)
    app = tui_app(TuiSettings(readonly=True))
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await ready(pilot)
        assert "read-only" in browser.sub_title
        await pilot.press("tab", "D", "n", "r", "u")
        assert not isinstance(app.screen, (ConfirmDialog, PromptDialog))
    await einstein.webdav.stat(space, "/a.txt")


async def test_preview_shows_markdown_and_details(tui_app: Any, einstein: Client,
                                                  tmp_path: Path) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/README.md", b"# Hello\n\nsome *text*\n", tmp_path)
    app = tui_app()
    async with app.run_test(size=(120, 36)) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "p")
        pane = browser.query_one(PreviewPane)
        assert pane.has_class("shown")
        from textual.widgets import Markdown

        markdown = pane.query_one(Markdown)
        await wait_for(pilot, lambda: markdown.display and markdown.source.startswith("# Hello"),
                       what="the markdown preview")
        assert "README.md" in str(pane.query_one("#details").render())


async def test_failed_download_is_a_notification(tui_app: Any, einstein: Client,
                                                 tmp_path: Path) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/gone.txt", b"soon gone", tmp_path)
    app = tui_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "d")                     # the download asks where to ...
        # ... and the file goes meanwhile (before the prompt, the TUI's change stream would
        # already have taken it off the list)
        await einstein.webdav.delete(space, "/gone.txt")
        await type_into_prompt(pilot, str(tmp_path))
        item = app.transfers.items[0]
        await wait_for(pilot, lambda: not item.active, what="the failed download")
        assert item.state is State.FAILED
        assert any("gone.txt: download failed" in n.message for n in app._notifications)
        assert browser.app.return_code is None
    try:
        await einstein.webdav.stat(space, "/gone.txt")
    except NotFound:
        pass
    assert not (tmp_path / "gone.txt").exists()


async def test_cancelled_download_leaves_nothing_behind(tui_app: Any, einstein: Client,
                                                        tmp_path: Path, monkeypatch: Any) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/big.bin", os.urandom(4 * 1024 * 1024), tmp_path)
    target = tmp_path / "down"
    target.mkdir()
    # A slow local disk (each write sleeps in its thread): the download stays in flight.
    import ocis_tui.remote as remote_module

    real_fdopen = os.fdopen

    class SlowFile:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def write(self, data: bytes) -> int:
            time.sleep(0.2)
            return int(self.fh.write(data))

        def __enter__(self) -> Self:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

    monkeypatch.setattr(remote_module, "_sink", lambda fd: SlowFile(real_fdopen(fd, "wb")))
    app = tui_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("tab", "d")
        await type_into_prompt(pilot, str(target))
        item = app.transfers.items[0]
        await wait_for(pilot, lambda: item.done > 0, what="the download to start")
        assert list(target.iterdir())                  # the .part file is there meanwhile
        await pilot.press("c")
        await wait_for(pilot, lambda: item.state is State.CANCELLED, what="cancel")
        await wait_for(pilot, lambda: not list(target.iterdir()), what="the .part removed")
