"""Shared with me (`S`, or the "pending" entry in the spaces list): every received share with its
state; `a` accepts, `x` declines, `h` hides (or shows again). Dismisses with (action, share), or
None (Esc)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from ocis_cli.client.shares import ShareInfo
from ocis_tui.sharing import item_name

from .tabledialog import TableDialog

Answer = tuple[str, ShareInfo]        # ("accept" | "decline" | "hide" | "unhide", share)


class ReceivedDialog(TableDialog[Answer]):
    DEFAULT_CSS = """
    ReceivedDialog { align: center middle; }
    ReceivedDialog > Vertical { width: 95%; height: 80%; border: thick $primary;
                                background: $surface; padding: 0 1; }
    ReceivedDialog DataTable { height: 1fr; }
    ReceivedDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "answer('accept')", "Accept"), Binding("x", "answer('decline')", "Decline"),
        Binding("h", "answer('hide')", "Hide")]

    def __init__(self, shares: list[ShareInfo], *, readonly: bool) -> None:
        super().__init__()
        self.shares = shares
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        pending = sum(1 for s in self.shares if s.state == "pending")
        with Vertical():
            yield Label(f"Shared with me: {len(self.shares)} share(s), {pending} pending")
            table: DataTable[str] = DataTable(cursor_type="row", id="received")
            table.add_columns("Name", "From", "Role", "State")
            for share in self.shares:
                name = item_name(share) + ("/" if share.item_type == "folder" else "")
                state = share.state + (" (hidden)" if share.hidden else "")
                sharer = str(share.raw.get("displayname_owner") or share.owner)
                table.add_row(name, sharer, share.role, state, key=share.id)
            yield table
            hint = ("Esc: close" if self.readonly
                    else "a: accept · x: decline · h: hide / show again · Esc: close")
            yield Label(hint, classes="hint")

    def action_answer(self, action: str) -> None:
        if self.readonly or not self.shares:
            return
        share = self.shares[self.query_one(DataTable).cursor_row]
        if action == "hide":
            self.dismiss(("unhide" if share.hidden else "hide", share))
            return
        if share.state == ("accepted" if action == "accept" else "declined"):
            self.notify(f"{item_name(share)} is already {share.state}", severity="warning")
            return
        self.dismiss((action, share))
