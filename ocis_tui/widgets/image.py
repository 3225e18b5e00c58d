"""An image drawn in any terminal: each cell is an upper half block `▀` whose foreground is one
pixel and background the pixel below it, so a cell shows two square-ish pixels in true colour
(docs/decisions/0014-tui-image-preview.md). The server makes the thumbnail (`?preview=1`); this
only decodes it (size checked before any pixel is read) and scales it to the cells it may fill.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

UPPER_HALF = "\u2580"
MAX_SOURCE = 4096            # pixels per side of a thumbnail we agree to decode
THUMBNAIL_PIXELS = 128       # asked of the server: enough for a pane 128 columns wide
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff")


class ImageError(ValueError):
    """The bytes are not an image this preview shows."""


def decode(data: bytes) -> Image.Image:
    """The picture in `data` as RGB, transparent parts on black. Runs in a worker thread."""
    try:
        image = Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "GIF", "WEBP"))
        if max(image.size) > MAX_SOURCE:
            raise ImageError("the thumbnail is too large")
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(str(exc) or "not an image") from None
    rgba = image.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    flat.alpha_composite(rgba)
    return flat.convert("RGB")


def fit_cells(image: Image.Image, columns: int, rows: int) -> HalfBlocks:
    """The picture scaled to fit `columns` x `rows` cells (2 pixels per cell, one above the
    other), aspect kept; never scaled up."""
    picture = image.copy()
    picture.thumbnail((max(1, columns), max(2, rows * 2)), Image.Resampling.LANCZOS)
    return HalfBlocks(picture)


class HalfBlocks:
    """A rich renderable of a (small, already scaled) RGB image; its cells are worked out once."""

    def __init__(self, image: Image.Image) -> None:
        rgb = image.convert("RGB")
        width, height = rgb.size
        self.size = (width, (height + 1) // 2)          # (columns, rows) it takes
        data = list(rgb.getdata())
        self._lines: list[list[Segment]] = []
        for y in range(0, height, 2):
            line = []
            for x in range(width):
                top = data[y * width + x]
                bottom = data[(y + 1) * width + x] if y + 1 < height else None
                line.append(Segment(UPPER_HALF, Style(
                    color=Color.from_rgb(*top[:3]),
                    bgcolor=Color.from_rgb(*bottom[:3]) if bottom is not None else None)))
            self._lines.append(line)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.size[0], self.size[0])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self._lines:
            yield from line[:options.max_width]
            yield Segment.line()
