"""Help overlay (every key with what it does) and a plain text view (the `@` command log)."""

from __future__ import annotations

from typing import ClassVar

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


def help_text(remap: dict[str, str], *, readonly: bool) -> str:
    """The help overlay's body: keys grouped as in the bindings table, remapping applied."""
    lines: list[str] = []
    group = ""
    for key in KEYS:
        if key.group != group:
            group = key.group
            lines.append(("" if not lines else "\n") + group)
        note = "  (off: read-only)" if readonly and key.mutating else ""
        lines.append(f"  {display(effective_keys(key, remap)):<18} {key.description}{note}"
                     f"  [{key.id}]")
    lines.append("\nIn the spaces list, Enter opens a space; Personal, Projects and Shared with me"
                 " are grouped;\nan accepted share is a space under Shared with me, and its"
                 " \"N pending\" entry opens what\nwaits for an answer (as S does). In the share"
                 " dialog, type part of a name: matches\nappear below, → completes inline."
                 "\nTyping in a prompt never triggers a key above. Remap a key by its"
                 " [id] in the [tui.keys]\ntable of the contexts file (`ocis tui --help`).")
    return "\n".join(lines)


class HelpDialog(TextDialog):
    def __init__(self, remap: dict[str, str], *, readonly: bool) -> None:
        super().__init__("Keys", help_text(remap, readonly=readonly))
