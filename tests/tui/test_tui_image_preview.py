"""The TUI's preview pane shows an image's thumbnail (made by the server, `?preview=1`) drawn in
half blocks, with Pilot against a real embedded server: the colours on screen are the picture's,
and a file the server cannot make a thumbnail of keeps just its details."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from textual.widgets import Static

from ocis_cli.client import Client
from ocis_tui.widgets.image import UPPER_HALF, HalfBlocks
from ocis_tui.widgets.preview import PreviewPane

from .conftest import ready, wait_for
from .test_tui_browse import personal
from .test_tui_files import put


def two_colours(size: tuple[int, int]) -> bytes:
    """Left half red, right half blue."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def cells(pane: PreviewPane) -> HalfBlocks | None:
    shown = pane.query_one("#image", Static).content
    return shown if isinstance(shown, HalfBlocks) else None


async def test_image_thumbnail_in_the_preview_pane(tui_app: Any, einstein: Client,
                                                   tmp_path: Path) -> None:
    space = await personal(einstein)
    await put(einstein, space, "/a-photo.png", two_colours((400, 200)), tmp_path)
    await put(einstein, space, "/b-broken.png", b"\x89PNG\r\n\x1a\nnot really", tmp_path)
    app = tui_app()
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        browser = await ready(pilot)
        await pilot.press("tab", "p")
        pane = browser.query_one(PreviewPane)
        await wait_for(pilot, lambda: cells(pane) is not None, what="the thumbnail")
        picture = cells(pane)
        assert picture is not None
        columns, rows = picture.size
        assert 8 <= columns <= pane.size.width and rows >= 4
        assert abs(columns / (rows * 2) - 2.0) < 0.3          # 400x200: twice as wide as high
        await pilot.pause()
        screen = app.export_screenshot()
        assert UPPER_HALF in screen
        lines = list(picture._lines)
        left, right = lines[rows // 2][1].style, lines[rows // 2][-2].style
        assert left is not None and right is not None
        assert left.color is not None and right.color is not None
        red, blue = left.color.get_truecolor(), right.color.get_truecolor()
        assert red.red > 180 and red.blue < 60, red
        assert blue.blue > 180 and blue.red < 60, blue
        # Down to the broken one: its details, no picture, no error.
        await pilot.press("j")
        await wait_for(pilot, lambda: "b-broken.png" in str(pane.query_one("#details").render()),
                       what="the details of the broken image")
        await pilot.pause(0.5)
        assert cells(pane) is None
        assert not [n for n in app._notifications if n.severity == "error"]
