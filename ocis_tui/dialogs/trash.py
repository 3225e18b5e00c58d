"""The trash bin of a space: pick an entry to restore (Enter), or Esc."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from ocis_cli.client import TrashEntry
from ocis_tui.transfers import human_size

from .tabledialog import TableDialog


class TrashDialog(TableDialog[TrashEntry]):
    DEFAULT_CSS = """
    TrashDialog { align: center middle; }
    TrashDialog > Vertical { width: 95%; height: 80%; border: thick $warning;
                             background: $surface; padding: 0 1; }
    TrashDialog DataTable { height: 1fr; }
    TrashDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "restore", "Restore")]

    def __init__(self, space_name: str, entries: list[TrashEntry], *, readonly: bool) -> None:
        super().__init__()
        self.space_name = space_name
        self.entries = sorted(entries, key=lambda e: e.deleted.timestamp() if e.deleted else 0,
                              reverse=True)
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Trash bin of {self.space_name}: {len(self.entries)} item(s)")
            table: DataTable[str] = DataTable(cursor_type="row", id="trash")
            table.add_columns("Name", "Where it was", "Size", "Deleted")
            for entry in self.entries:
                deleted = entry.deleted.strftime("%Y-%m-%d %H:%M") if entry.deleted else "-"
                table.add_row(entry.name + ("/" if entry.is_folder else ""),
                              "/" + entry.original_location.lstrip("/"),
                              human_size(entry.size), deleted, key=entry.key)
            yield table
            hint = "Esc: close" if self.readonly else "Enter or r: restore to where it was · Esc: close"
            yield Label(hint, classes="hint")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_restore()

    def action_restore(self) -> None:
        if self.readonly or not self.entries:
            return
        row = self.query_one(DataTable).cursor_row
        self.dismiss(self.entries[row])
