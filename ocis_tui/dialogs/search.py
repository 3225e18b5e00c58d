"""Matches of a name search across a space (the server's REPORT, `ocis find`): pick one (Enter)
to go to its folder with the cursor on it, or Esc."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from ocis_cli.client import Resource
from ocis_tui.transfers import human_size

from .tabledialog import TableDialog


class SearchDialog(TableDialog[Resource]):
    DEFAULT_CSS = """
    SearchDialog { align: center middle; }
    SearchDialog > Vertical { width: 95%; height: 80%; border: thick $primary;
                              background: $surface; padding: 0 1; }
    SearchDialog DataTable { height: 1fr; }
    SearchDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("l", "go", "Go there", show=False)]

    def __init__(self, space_name: str, pattern: str, found: list[Resource], total: int) -> None:
        super().__init__()
        self.space_name, self.pattern = space_name, pattern
        self.found, self.total = found, total

    def compose(self) -> ComposeResult:
        shown = (f"{len(self.found)} of {self.total}" if self.total > len(self.found)
                 else str(len(self.found)))
        with Vertical():
            yield Label(f"{shown} match(es) for {self.pattern!r} in {self.space_name}",
                        id="summary")
            table: DataTable[str] = DataTable(cursor_type="row", id="matches")
            table.add_columns("Path", "Size", "Modified")
            for res in self.found:
                modified = res.mtime.astimezone().strftime("%Y-%m-%d %H:%M") if res.mtime else "-"
                table.add_row(res.path + ("/" if res.is_folder else ""),
                              "" if res.is_folder else human_size(res.size), modified)
            yield table
            yield Label("Enter: go there · Esc: close", classes="hint")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_go()

    def action_go(self) -> None:
        if self.found:
            self.dismiss(self.found[self.query_one(DataTable).cursor_row])
