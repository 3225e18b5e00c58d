"""One line of input (new name, local or remote path); Enter submits, Esc cancels (None); with a
completer (ocis_tui.completion), Tab completes the path and lists the choices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

Validate = Callable[[str], str | None]     # returns an error message, or None when valid
Complete = Callable[[str], Awaitable[list[str]]]


class PromptDialog(ModalScreen[str | None]):
    DEFAULT_CSS = """
    PromptDialog { align: center middle; }
    PromptDialog > Vertical { width: 70; max-width: 95%; height: auto; border: thick $primary;
                              background: $surface; padding: 1 2; }
    PromptDialog #error { color: $error; height: auto; }
    PromptDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "complete", "Complete", show=False, priority=True)]

    def __init__(self, title: str, *, value: str = "", hint: str = "",
                 validate: Validate | None = None, complete: Complete | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.hint = hint or ("Tab: complete · Enter: OK · Esc: cancel" if complete
                             else "Enter: OK · Esc: cancel")
        self.validate = validate
        self.complete = complete

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield Input(value=self.value, id="answer")
            yield Label("", id="error")
            yield Label("", id="choices", classes="hint")
            yield Label(self.hint, classes="hint")

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

    def action_complete(self) -> None:
        if self.complete is not None:
            self.run_completion(self.query_one(Input).value)

    @work(exclusive=True, group="complete", exit_on_error=False)
    async def run_completion(self, typed: str) -> None:
        from ocis_tui.completion import complete_value

        assert self.complete is not None
        value, choices = complete_value(typed, await self.complete(typed))
        box = self.query_one(Input)
        if box.value != typed:          # typed on meanwhile: this answer is stale
            return
        box.value = value
        box.cursor_position = len(value)
        shown = [c.rstrip("/").rsplit("/", 1)[-1] + ("/" if c.endswith("/") else "")
                 for c in choices[:12]]
        more = f" (+{len(choices) - 12})" if len(choices) > 12 else ""
        self.query_one("#choices", Label).update(
            "  ".join(shown) + more if choices else ("" if value != typed else "no match"))


def name_problem(name: str) -> str | None:
    """oCIS's rules for one name (protocol-notes.md §4): not `.`/`..`, no slash, backslash or newline."""
    if name in (".", ".."):
        return "'.' and '..' are not names"
    if any(c in name for c in "/\\\r\n\f\0"):
        return "a name cannot contain / \\ or line breaks"
    if len(name.encode()) > 255:
        return "a name is at most 255 bytes"
    return None
