"""One line of input (new name, local path); Enter submits, Esc cancels (None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

Validate = Callable[[str], str | None]     # returns an error message, or None when valid


class PromptDialog(ModalScreen[str | None]):
    DEFAULT_CSS = """
    PromptDialog { align: center middle; }
    PromptDialog > Vertical { width: 70; max-width: 95%; height: auto; border: thick $primary;
                              background: $surface; padding: 1 2; }
    PromptDialog #error { color: $error; height: auto; }
    PromptDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, value: str = "", hint: str = "",
                 validate: Validate | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.hint = hint
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield Input(value=self.value, id="answer")
            yield Label("", id="error")
            yield Label(self.hint or "Enter: OK · Esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        problem = "empty" if not text else (self.validate(text) if self.validate else None)
        if problem:
            self.query_one("#error", Label).update(problem)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


def name_problem(name: str) -> str | None:
    """oCIS's rules for one name (protocol-notes.md §4): not `.`/`..`, no slash, backslash or newline."""
    if name in (".", ".."):
        return "'.' and '..' are not names"
    if any(c in name for c in "/\\\r\n\f\0"):
        return "a name cannot contain / \\ or line breaks"
    if len(name.encode()) > 255:
        return "a name is at most 255 bytes"
    return None
