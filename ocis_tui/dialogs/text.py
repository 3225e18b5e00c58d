"""Help overlay (every key with what it does) and a plain text view (the `@` command log)."""

from __future__ import annotations

import io
from typing import ClassVar

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ocis_tui.bindings import KEYS, display, effective_keys


class TextDialog(ModalScreen[None]):
    DEFAULT_CSS = """
    TextDialog { align: center middle; }
    TextDialog > VerticalScroll { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                  border: thick $primary; background: $surface; padding: 0 1; }
    TextDialog .title { text-style: bold; width: 100%; content-align: center middle; }
    TextDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,enter,at", "close", "Close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self.title_text, classes="title")
            yield Static(self.body, markup=False, id="body")
            yield Label("Esc: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)


HELP_NOTES = (
    "In the spaces list, Enter opens a space; Personal, Projects and Shared with me are grouped; "
    "an accepted share is a space under Shared with me, and its \"N pending\" entry opens what "
    "waits for an answer (as S does).",
    "The Sh column: S shared with me, s shared by me with people, L a public link.",
    "In the share dialog, type part of a name: matches appear below, → completes inline. In a "
    "path prompt (upload, move, copy) Tab completes the path.",
    "Typing in a prompt never triggers a key above. Remap a key by its [id] in the [tui.keys] "
    "table of the contexts file (`ocis tui --help`).",
)


def help_sections(remap: dict[str, str], *, readonly: bool
                  ) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(section, [(keys, what it does, [id])]): each section once, in the order it first appears
    in the bindings table; remapping applied."""
    sections: dict[str, list[tuple[str, str, str]]] = {}
    for key in KEYS:
        note = " (off: read-only)" if readonly and key.mutating else ""
        sections.setdefault(key.group, []).append(
            (display(effective_keys(key, remap)), key.description + note, f"[{key.id}]"))
    return list(sections.items())


def help_renderable(remap: dict[str, str], *, readonly: bool) -> RenderableType:
    """The help as a table whose description column wraps in place at any width."""
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, min_width=12)
    table.add_column(ratio=1, overflow="fold")
    table.add_column(no_wrap=True, style="dim")
    for index, (section, rows) in enumerate(help_sections(remap, readonly=readonly)):
        if index:
            table.add_row("", "", "")
        table.add_row(Text(section, style="bold"), "", "")
        for keys, what, ident in rows:
            table.add_row(Text("  " + keys), Text(what), Text(ident))
    notes = [Text(note) for note in HELP_NOTES]
    return Group(table, *(Group(Text(""), note) for note in notes))


def help_text(remap: dict[str, str], *, readonly: bool, width: int = 100) -> str:
    """The help as plain text, laid out for `width` columns."""
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(help_renderable(remap, readonly=readonly))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


class HelpDialog(TextDialog):
    def __init__(self, remap: dict[str, str], *, readonly: bool) -> None:
        super().__init__("Keys", help_text(remap, readonly=readonly))
        self.renderable = help_renderable(remap, readonly=readonly)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self.title_text, classes="title")
            yield Static(self.renderable, id="body")
            yield Label("Esc: close", classes="hint")
