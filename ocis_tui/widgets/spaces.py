"""The spaces the user can reach, grouped: Personal, Projects, Shared with me (with the number of
shares waiting for an answer), Remote."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ocis_cli.client import Drive

# Graph driveType -> group heading (protocol-notes.md §6); "virtual" is the share jail.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Personal", ("personal",)),
    ("Projects", ("project",)),
    ("Shared with me", ("virtual", "mountpoint")),
)
PENDING = "pending:"          # the option id of the "N pending" entry (not a drive)


def group_of(drive: Drive) -> str:
    for title, types in GROUPS:
        if drive.drive_type in types:
            return title
    return "Remote" if drive.drive_type == "remote" else "Other"


class SpacesList(OptionList):
    """Headings are disabled options, so the cursor only ever rests on a space."""

    DEFAULT_CSS = """
    SpacesList { width: 24; min-width: 18; height: 1fr; border: round $primary-darken-2; }
    SpacesList:focus { border: round $primary; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.drives: dict[str, Drive] = {}
        self.pending = 0
        self.border_title = "Spaces"

    def show(self, drives: list[Drive], current: str | None = None) -> None:
        self.drives = {d.id: d for d in drives}
        self.clear_options()
        order = [title for title, _ in GROUPS] + ["Remote", "Other"]
        for title in order:
            members = sorted((d for d in drives if group_of(d) == title),
                             key=lambda d: d.name.lower())
            extra = self.pending if title == "Shared with me" else 0
            if not members and not extra:
                continue
            self.add_option(Option(Text(title, style="bold underline"), disabled=True))
            for drive in members:
                self.add_option(Option(" " + drive.name, id=drive.id))
            if extra:
                self.add_option(Option(Text(f" {extra} pending: accept?", style="italic"),
                                       id=PENDING))
        if current is not None and (current in self.drives or current == PENDING and self.pending):
            self.highlighted = self.get_option_index(current)
        else:
            first = next((i for i in range(self.option_count)
                          if not self.get_option_at_index(i).disabled), None)
            self.highlighted = first

    def set_pending(self, count: int) -> None:
        """Show (or drop) the "N pending" entry; the cursor stays where it was."""
        if count == self.pending:
            return
        self.pending = count
        option = (self.get_option_at_index(self.highlighted)
                  if self.highlighted is not None else None)
        self.show(list(self.drives.values()), option.id if option is not None else None)

    @property
    def on_pending(self) -> bool:
        return (self.highlighted is not None
                and self.get_option_at_index(self.highlighted).id == PENDING)

    @property
    def selected_drive(self) -> Drive | None:
        if self.highlighted is None:
            return None
        option = self.get_option_at_index(self.highlighted)
        return self.drives.get(option.id or "")

    def action_cursor_top(self) -> None:
        self.action_first()

    def action_cursor_bottom(self) -> None:
        self.action_last()
