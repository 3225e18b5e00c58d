"""Preview of the entry under the cursor: details always, then Markdown or text when it is one,
or for an image its thumbnail from the server drawn in half blocks (widgets/image.py)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from ocis_cli.client import Resource
from ocis_tui.transfers import human_size
from ocis_tui.widgets.image import IMAGE_TYPES, fit_cells

if TYPE_CHECKING:
    from PIL.Image import Image

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml",
              "application/javascript", "application/toml")
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".py", ".json", ".toml", ".yaml", ".yml", ".csv",
                 ".log", ".ini", ".cfg", ".sh", ".xml", ".html", ".css", ".js", ".rst", ".go"}


def is_previewable(res: Resource) -> bool:
    if res.is_folder:
        return False
    suffix = PurePosixPath(res.name).suffix.lower()
    return suffix in TEXT_SUFFIXES or res.content_type.startswith(TEXT_TYPES)


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def is_image(res: Resource) -> bool:
    """A file the server makes thumbnails of (its `?preview=1`), shown as a picture."""
    if res.is_folder:
        return False
    suffix = PurePosixPath(res.name).suffix.lower()
    return res.content_type in IMAGE_TYPES or (not res.content_type and suffix in IMAGE_SUFFIXES)


def details(res: Resource) -> str:
    mtime = res.mtime.astimezone().strftime("%Y-%m-%d %H:%M:%S") if res.mtime else "-"
    lines = [res.name + ("/" if res.is_folder else ""),
             f"type     {'folder' if res.is_folder else res.content_type or 'file'}",
             f"size     {human_size(res.size)} ({res.size} bytes)",
             f"modified {mtime}", f"perms    {res.permissions or '-'}",
             f"id       {res.id}", f"etag     {res.etag}"]
    if res.checksums:
        lines.append(f"checksum {res.checksums}")
    return "\n".join(lines)


class PreviewPane(VerticalScroll):
    DEFAULT_CSS = """
    PreviewPane { width: 2fr; height: 1fr; border: round $secondary; display: none; }
    PreviewPane.shown { display: block; }
    PreviewPane #details { color: $text-muted; margin-bottom: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="details", markup=False)
        image = Static("", id="image")
        image.display = False
        yield image
        yield Static("", id="text")
        yield Markdown("", id="markdown")

    picture: Image | None = None       # the decoded thumbnail being shown, if any

    def on_mount(self) -> None:
        self.border_title = "Preview"

    def on_resize(self) -> None:
        self._draw_picture()

    def show_details(self, res: Resource | None) -> None:
        self.query_one("#details", Static).update(details(res) if res else "")
        self.picture = None
        image = self.query_one("#image", Static)
        image.update("")
        image.display = False        # an empty Static would still take a line
        self.query_one("#text", Static).update("")
        self.query_one("#markdown", Markdown).display = False

    def show_image(self, picture: Image) -> None:
        """Show a decoded thumbnail, scaled to the pane now and again whenever it is resized."""
        self.picture = picture
        self._draw_picture()

    def _draw_picture(self) -> None:
        if self.picture is None:
            return
        region = self.scrollable_content_region
        columns, rows = max(4, region.width - 1), max(2, region.height - 9)   # below the details
        image = self.query_one("#image", Static)
        image.update(fit_cells(self.picture, columns, rows))
        image.display = True

    def show_content(self, res: Resource, data: bytes, *, truncated: bool) -> None:
        text = data.decode("utf-8", "replace")
        if truncated:
            text += "\n…"
        if PurePosixPath(res.name).suffix.lower() in (".md", ".markdown"):
            markdown = self.query_one("#markdown", Markdown)
            markdown.display = True
            markdown.update(text)
            return
        lexer = Syntax.guess_lexer(res.name, code=text)
        self.query_one("#text", Static).update(
            Syntax(text, lexer, theme="ansi_dark", word_wrap=True, line_numbers=False))
