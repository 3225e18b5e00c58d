"""The folder listing: mark, name, size, modified, share marker (`share_marker`), permissions;
sort and filter."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ocis_cli.client import Resource
from ocis_tui.transfers import human_size

SORTS = ("name", "size", "modified")


def sort_key(kind: str, res: Resource) -> tuple[object, ...]:
    """Folders first, then by `kind` (name ascending, size and modified descending)."""
    if kind == "size":
        return (not res.is_folder, -res.size, res.name.lower())
    if kind == "modified":
        return (not res.is_folder, -(res.mtime.timestamp() if res.mtime else 0), res.name.lower())
    return (not res.is_folder, res.name.lower())


def share_marker(res: Resource) -> str:
    """Two characters: `S` shared with me, `s` I share it with people (user, group, federated);
    then `L` when it has a public link."""
    people = "S" if res.shared_with_me else "s" if set(res.share_types) & {0, 1, 6} else " "
    link = "L" if 3 in res.share_types else " "
    return (people + link).rstrip()


class FileTable(DataTable[Text | str]):
    DEFAULT_CSS = """
    FileTable { height: 1fr; border: round $primary-darken-2; scrollbar-size-horizontal: 0; }
    FileTable:focus { border: round $primary; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.entries: list[Resource] = []
        self.shown: list[Resource] = []
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_by = "name"

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        self.add_column("Name", key="name")
        self.add_column("Size", key="size")
        self.add_column("Modified", key="modified")
        self.add_column("Sh", key="shared", width=2)
        self.add_column("Perms", key="perms")

    def show(self, entries: list[Resource], *, keep: str | None = None) -> None:
        """Replace the listing (marks of vanished entries are dropped); keep the cursor on `keep`."""
        self.entries = entries
        paths = {e.path for e in entries}
        self.marked &= paths
        self.render_rows(keep=keep)

    def render_rows(self, *, keep: str | None = None) -> None:
        current = keep if keep is not None else (self.current.path if self.current else None)
        needle = self.filter_text.lower()
        self.shown = sorted((e for e in self.entries if needle in e.name.lower()),
                            key=lambda r: sort_key(self.sort_by, r))
        self.clear()
        for res in self.shown:
            self.add_row(*self._cells(res), key=res.path)
        if current is not None:
            for index, res in enumerate(self.shown):
                if res.path == current:
                    self.move_cursor(row=index, animate=False)
                    break
        title = f"{len(self.shown)} of {len(self.entries)}" if needle else f"{len(self.entries)}"
        sort = f"sort: {self.sort_by}"
        self.border_subtitle = f"{title} · {sort}" + (f" · filter: {self.filter_text}" if needle else "")

    def _cells(self, res: Resource) -> tuple[Text | str, ...]:
        name = Text(res.name + "/", style="bold") if res.is_folder else Text(res.name)
        mtime = res.mtime.astimezone().strftime("%Y-%m-%d %H:%M") if res.mtime else ""
        size = human_size(res.size)
        shared = share_marker(res)
        return ("*" if res.path in self.marked else "", name, size, mtime, shared, res.permissions)

    @property
    def current(self) -> Resource | None:
        if not self.shown or self.cursor_row < 0 or self.cursor_row >= len(self.shown):
            return None
        return self.shown[self.cursor_row]

    def selection(self) -> list[Resource]:
        """The marked entries, or the one under the cursor when none is marked."""
        marked = [e for e in self.entries if e.path in self.marked]
        if marked:
            return marked
        return [self.current] if self.current else []

    def toggle_mark(self) -> None:
        res = self.current
        if res is None:
            return
        self.marked ^= {res.path}
        self.update_cell(res.path, "mark", "*" if res.path in self.marked else "")
        self.move_cursor(row=self.cursor_row + 1)

    def cycle_sort(self) -> str:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self.render_rows()
        return self.sort_by

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.render_rows()

    # DataTable moves between cells with the arrows; in a row-cursor listing they mean what ranger
    # and lf make them mean: into the folder, and back up.
    def action_cursor_right(self) -> None:
        self.call_later(self.run_action, "screen.open")

    def action_cursor_left(self) -> None:
        self.call_later(self.run_action, "screen.parent")

    def action_cursor_top(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        self.move_cursor(row=max(len(self.shown) - 1, 0))
