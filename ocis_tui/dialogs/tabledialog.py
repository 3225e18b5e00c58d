"""A modal dialog around one DataTable: it takes the focus, j/k move the cursor, Esc or q closes
with None. Subclasses add their CSS, the table, and the keys that answer."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import DataTable

T = TypeVar("T")


class TableDialog(ModalScreen[T | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("j", "cursor(1)", show=False), Binding("k", "cursor(-1)", show=False)]

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_cursor(self, step: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=table.cursor_row + step)

    def action_close(self) -> None:
        self.dismiss(None)
