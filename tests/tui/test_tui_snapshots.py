"""SVG snapshots of the main screens at 80x24 and 120x36 (pytest-textual-snapshot, Textual pinned;
docs/decisions/0005-tui-snapshots.md). Update with `pytest tests/tui --snapshot-update` after
looking at the differences in the report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from ocis_tui.app import make_app
from ocis_tui.settings import TuiSettings
from ocis_tui.transfers import State

from .fakes import fake_opener

SIZES = [(80, 24), (120, 36)]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times are shown in local time: pin it so the pictures do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def loaded(pilot: Any) -> None:
    app = pilot.app
    while not (app.browser.drive and app.browser.table.shown and not app.browser.table.loading):
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_browser(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(fake_opener()), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_overlay(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(fake_opener()), terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_delete_confirm(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("tab", "j", "j", "D")

    assert snap_compare(make_app(fake_opener()), terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_transfers_and_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run(pilot: Any) -> None:
        await loaded(pilot)
        clock = iter(range(1000)).__next__      # one second per reading
        model = pilot.app.transfers
        model.clock = lambda: float(clock())
        up = model.add("upload", "relativity.pdf", 4_200_000)
        up.start()
        up.update(1_000_000)
        up.update(2_100_000)
        down = model.add("download", "README.md", 1234)
        down.start()
        down.finish(State.DONE)
        await pilot.press("tab", "j", "j", "j", "p", "t")   # README.md
        while "Relativity" not in str(pilot.app.browser.query_one("#markdown").source):
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(make_app(fake_opener()), terminal_size=size, run_before=run)


def test_readonly_theme_and_trash(snap_compare: Any) -> None:
    async def run(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("T")
        while pilot.app.screen is pilot.app.browser:
            await pilot.pause(0.02)
        await pilot.pause()

    app = make_app(fake_opener(), TuiSettings(theme="nord", readonly=True))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run)


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """https://no-color.org: with NO_COLOR set, the app renders in monochrome."""
    from ocis_tui.settings import load_settings

    assert load_settings(None, environ={"NO_COLOR": "1"}).no_color
    assert not load_settings(None, environ={}).no_color
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(fake_opener())
    assert app.no_color
    assert any(type(f).__name__ in ("Monochrome", "NoColor") for f in app._filters)
