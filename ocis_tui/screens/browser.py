"""The browser screen: layout, navigation between spaces and folders, loading and polling.

File operations (transfers, rename, delete, trash) live in `ocis_tui.screens.actions`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList

from ocis_cli.client import ClientError, Drive
from ocis_tui.bindings import textual_bindings
from ocis_tui.cli import command
from ocis_tui.commands import BrowserCommands
from ocis_tui.messages import Connected, ConnectFailed, RemoteChanged, TransferFinished
from ocis_tui.remote import RemoteApi
from ocis_tui.screens.actions import FileActions
from ocis_tui.screens.sharing import SharingActions
from ocis_tui.settings import TuiSettings
from ocis_tui.transfers import Transfers, human_size
from ocis_tui.widgets.files import FileTable
from ocis_tui.widgets.preview import PreviewPane, is_image, is_previewable
from ocis_tui.widgets.spaces import SpacesList
from ocis_tui.widgets.transfers import TransfersPanel


def quota_text(drive: Drive) -> str:
    limit = human_size(drive.quota_total) if drive.quota_total else "unlimited"
    return f"{human_size(drive.quota_used or 0)} / {limit}"


# Change-stream events after which the spaces list (and the shares in it) is loaded again.
_SPACE_LIST_EVENTS = frozenset({"share-created", "share-removed", "share-updated",
                                "space-member-added", "space-member-removed",
                                "space-share-updated"})

class BrowserScreen(FileActions, SharingActions, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *textual_bindings(), Binding("escape", "clear_filter", show=False)]
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {BrowserCommands}
    DEFAULT_CSS = """
    #main { height: 1fr; }
    #files { width: 3fr; height: 1fr; }
    #filter { display: none; height: 3; }
    #filter.shown { display: block; }
    """

    def __init__(self, settings: TuiSettings, transfers: Transfers) -> None:
        super().__init__()
        self.settings = settings
        self.transfers = transfers
        self.remote: RemoteApi | None = None
        self.drive: Drive | None = None
        self.path = "/"
        self.root_etag: str | None = None
        self.cli_log: list[str] = []
        self.following = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield SpacesList(id="spaces")
            with Vertical(id="files"):
                yield Input(placeholder="filter: type to narrow, Enter keeps, Esc clears",
                            id="filter")
                yield FileTable(id="table")
            yield PreviewPane(id="preview")
        yield TransfersPanel(self.transfers, id="transfers")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "ocis"
        self.sub_title = "connecting…"
        self.query_one(SpacesList).focus()

    # --- connection, spaces, listings ------------------------------------------------------------

    @property
    def table(self) -> FileTable:
        return self.query_one(FileTable)

    @on(Connected)
    def connected(self, message: Connected) -> None:
        self.remote = message.remote
        ident = message.remote.identity
        host = ident.server.split("://", 1)[-1].rstrip("/")
        prefix = f"[{ident.context}] " if ident.context and ident.context != host else ""
        self.title = f"{prefix}{ident.user}@{host}"
        self.load_spaces()
        self.start_polling()
        self.follow_changes()

    @on(ConnectFailed)
    def connect_failed(self, message: ConnectFailed) -> None:
        self.sub_title = "not connected"
        self.notify(message.reason, title="Cannot connect", severity="error", timeout=30)

    def fail(self, what: str, exc: Exception) -> None:
        reason = exc.message if isinstance(exc, ClientError) else str(exc)
        self.notify(f"{what}: {reason}", severity="error", timeout=10)

    def space_arg(self) -> str | None:
        """The space as `ocis` names it: None for the personal space, else its name."""
        drive = self.drive
        return None if drive is None or drive.drive_type == "personal" else drive.name

    def log_cli(self, action: str, **kwargs: object) -> None:
        context = self.remote.identity.context if self.remote else ""
        self.cli_log.append(command(action, space=self.space_arg(), context=context,
                                    **kwargs))  # type: ignore[arg-type]

    @work(exclusive=True, group="spaces", exit_on_error=False)
    async def load_spaces(self) -> None:
        assert self.remote is not None
        try:
            drives = await self.remote.drives()
        except ClientError as exc:
            self.fail("Loading spaces", exc)
            return
        spaces = self.query_one(SpacesList)
        spaces.show(drives, self.drive.id if self.drive else None)
        self.load_pending()
        current = next((d for d in drives if self.drive and d.id == self.drive.id), None)
        if current is None:
            self.open_drive(spaces.selected_drive, focus=False)
            return
        self.show_drive(current)         # a refresh: new quota, same folder, same cursor
        self.reload()

    def show_drive(self, drive: Drive) -> None:
        """Make `drive` the current space in the header (name and quota)."""
        self.drive = drive
        self.query_one(SpacesList).border_subtitle = quota_text(drive)
        self.sub_title = f"{drive.name} · {quota_text(drive)}" + (
            " · read-only" if self.settings.readonly else "")

    def open_drive(self, drive: Drive | None, *, focus: bool = True, path: str = "/") -> None:
        if drive is None:
            return
        changed = self.drive is None or drive.id != self.drive.id
        self.show_drive(drive)
        if changed:
            self.root_etag = None
            self.table.marked.clear()
        self.load_listing(path)
        if focus:
            self.table.focus()

    @work(exclusive=True, group="listing", exit_on_error=False)
    async def load_listing(self, path: str, keep: str | None = None, *,
                           log: bool = True) -> None:
        if self.remote is None or self.drive is None:
            return
        drive = self.drive
        self.table.loading = log         # a quiet reload keeps the rows on screen meanwhile
        try:
            entries = await self.remote.listing(drive.id, path)
        except ClientError as exc:
            self.fail(f"Listing {path}", exc)
            return
        finally:
            self.table.loading = False
        if self.drive is not drive:
            return
        if path != self.path:
            self.table.marked.clear()
        self.path = path
        self.table.border_title = f"{drive.name}:{path}"
        self.table.show(entries, keep=keep)
        if log:
            self.log_cli("ls", path=path)
        self.update_preview()

    def reload(self) -> None:
        current = self.table.current
        self.load_listing(self.path, current.path if current else None, log=False)

    # --- polling ---------------------------------------------------------------------------------

    @work(group="poll", exit_on_error=False)
    async def start_polling(self) -> None:
        assert self.remote is not None
        try:
            interval = await self.remote.poll_interval()
        except ClientError:
            interval = 60.0
        self.set_interval(interval, self.poll)

    @work(exclusive=True, group="poll-once", exit_on_error=False)
    async def poll(self) -> None:
        if self.remote is None or self.drive is None:
            return
        drive = self.drive
        try:
            etag = await self.remote.root_etag(drive.id)
        except ClientError:
            return                     # a failed poll is retried at the next interval
        if self.drive is drive:
            if self.root_etag is not None and etag != self.root_etag:
                self.post_message(RemoteChanged(drive.id))
            self.root_etag = etag

    @work(group="changes-stream", exit_on_error=False)
    async def follow_changes(self) -> None:
        """Refresh from the server's change stream (SSE) as changes happen; the etag poll
        stays as the fallback when the stream is unavailable."""
        assert self.remote is not None
        self.following = True
        try:
            async for event in self.remote.changes():
                if event.type == "share-created" and await self.concerns_me(event.affected):
                    self.offer_received(event.item_id)   # a notice with the accept key
                elif event.type == "userlog-notification" and event.object_type == "share":
                    self.offer_received(share_id=event.object_id)   # a federated one too
                if event.type == "postprocessing-finished":
                    self.upload_announced(event.space_id, event.item_id)
                if event.type in _SPACE_LIST_EVENTS:
                    self.load_spaces()              # a share or membership came or went
                elif self.drive is not None and event.space_id == self.drive.id:
                    self.post_message(RemoteChanged(self.drive.id))
        except ClientError:
            return
        finally:
            self.following = False
            self.transfers.stream_lost()

    @work(group="announced", exit_on_error=False)
    async def upload_announced(self, space_id: str, item_id: str) -> None:
        """The server announced a file ready (postprocessing-finished): our own upload of it
        (by the id the server answered with) is done; an upload another client made to the open
        space joins the transfers pane, done (what it was: its path and size, asked by id)."""
        if self.transfers.ready(item_id) is not None:
            self.query_one(TransfersPanel).redraw()
            return
        while self.transfers.answering(space_id):   # ours, its answer still on its way?
            await asyncio.sleep(0.1)
        if any(t.item_id == item_id for t in self.transfers.items):
            return                                  # it was ours: `settle` saw it ready
        open_space = self.drive is not None and self.drive.id == space_id
        if self.remote is None or not (open_space or self.transfers.waiting(space_id)):
            return
        try:
            found = await self.remote.locate(space_id, item_id)
        except ClientError:
            return
        if found is None:
            return
        own = self.transfers.own_upload(space_id, found.path)
        if own is not None:
            self.transfers.announce(own)
        elif open_space:
            self.transfers.add_elsewhere(found.name, found.size, space_id=space_id,
                                         path=found.path)
        self.query_one(TransfersPanel).redraw()

    @on(RemoteChanged)
    def remote_changed(self, message: RemoteChanged) -> None:
        if self.drive is not None and self.drive.id == message.space_id:
            self.load_spaces()           # the quota may have changed too

    @on(TransferFinished)
    def transfer_finished(self, message: TransferFinished) -> None:
        """An upload changes the quota: reload the spaces (the header's and the list's quota),
        which also reloads the folder on screen."""
        if message.transfer.direction == "upload" and self.remote is not None:
            self.load_spaces()

    # --- navigation ------------------------------------------------------------------------------

    def _focused_call(self, name: str) -> None:
        method = getattr(self.focused, f"action_{name}", None)
        if callable(method):
            method()

    def action_cursor_down(self) -> None:
        self._focused_call("cursor_down")

    def action_cursor_up(self) -> None:
        self._focused_call("cursor_up")

    def action_cursor_top(self) -> None:
        self._focused_call("cursor_top")

    def action_cursor_bottom(self) -> None:
        self._focused_call("cursor_bottom")

    def action_switch_pane(self) -> None:
        target = self.table if isinstance(self.focused, SpacesList) else self.query_one(SpacesList)
        target.focus()

    def action_open(self) -> None:
        if isinstance(self.focused, SpacesList):
            if self.focused.on_pending:
                self.action_received()
                return
            self.open_drive(self.focused.selected_drive, path="/")
            return
        res = self.table.current
        if res is None:
            return
        if res.is_folder:
            self.close_filter()
            self.load_listing(res.path)
        else:
            self.action_preview(show=True)

    def action_parent(self) -> None:
        if isinstance(self.focused, SpacesList):
            return
        if self.path == "/":
            self.query_one(SpacesList).focus()
            return
        self.close_filter()
        self.load_listing(self.path.rsplit("/", 1)[0] or "/", keep=self.path)

    @on(OptionList.OptionHighlighted, "#spaces")
    def space_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        drive = self.query_one(SpacesList).selected_drive
        if drive is not None and (self.drive is None or drive.id != self.drive.id):
            self.open_drive(drive, focus=False)

    @on(OptionList.OptionSelected, "#spaces")
    def space_selected(self, event: OptionList.OptionSelected) -> None:
        if self.query_one(SpacesList).on_pending:
            self.action_received()
            return
        self.open_drive(self.query_one(SpacesList).selected_drive, path="/")

    @on(FileTable.RowSelected, "#table")
    def row_selected(self, event: FileTable.RowSelected) -> None:
        self.action_open()

    @on(FileTable.RowHighlighted, "#table")
    def row_highlighted(self, event: FileTable.RowHighlighted) -> None:
        self.update_preview()

    # --- filter, sort, marks, preview ------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()
        if event.value.strip() and self.table.current is None:   # nothing here: ask the server
            self.search_space(event.value.strip())

    def action_find(self) -> None:
        from ocis_tui.dialogs.prompt import PromptDialog

        def answered(pattern: str | None) -> None:
            if pattern and pattern.strip():
                self.search_space(pattern.strip())

        value = self.query_one("#filter", Input).value
        self.app.push_screen(PromptDialog(
            "Find in the whole space: part of a name, or a pattern with * and ?", value=value),
            answered)

    @work(exclusive=True, group="search", exit_on_error=False)
    async def search_space(self, pattern: str) -> None:
        """The server's name search across the space; Enter on a match goes to it."""
        from ocis_cli.client import Resource
        from ocis_tui.dialogs.search import SearchDialog

        if self.remote is None or self.drive is None:
            return
        drive = self.drive
        try:
            found, total = await self.remote.search(drive.id, pattern)
        except ClientError as exc:
            self.fail(f"Searching {pattern!r}", exc)
            return
        self.log_cli("find", target=pattern)

        def chosen(res: Resource | None) -> None:
            if res is not None and self.drive is drive:
                self.close_filter()
                self.load_listing(res.path.rsplit("/", 1)[0] or "/", keep=res.path)
                self.table.focus()

        self.app.push_screen(SearchDialog(drive.name, pattern, found, total), chosen)

    def close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("shown")
        if box.value:
            box.value = ""
            self.table.set_filter("")

    def action_clear_filter(self) -> None:
        self.close_filter()
        self.table.focus()

    def action_sort(self) -> None:
        self.notify(f"sorted by {self.table.cycle_sort()}", timeout=2)

    def action_mark(self) -> None:
        if self.focused is self.table:
            self.table.toggle_mark()

    def action_preview(self, show: bool | None = None) -> None:
        pane = self.query_one(PreviewPane)
        pane.set_class(not pane.has_class("shown") if show is None else show, "shown")
        self.update_preview()

    def update_preview(self) -> None:
        pane = self.query_one(PreviewPane)
        if not pane.has_class("shown"):
            return
        res = self.table.current
        pane.show_details(res)
        if res is not None and is_image(res):
            self.load_thumbnail(res)
        elif res is not None and is_previewable(res):
            self.load_preview(res)

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def load_thumbnail(self, res: object) -> None:
        """The server's thumbnail (`?preview=1`), decoded off the event loop; the pane scales it
        to the cells it has."""
        from ocis_cli.client import NotFound, Resource
        from ocis_tui.widgets.image import THUMBNAIL_PIXELS, ImageError, decode

        if self.remote is None or self.drive is None or not isinstance(res, Resource):
            return
        try:
            data = await self.remote.thumbnail(self.drive.id, res.path, THUMBNAIL_PIXELS,
                                               THUMBNAIL_PIXELS)
            picture = await asyncio.to_thread(decode, data)
        except (NotFound, ImageError):
            return                        # no thumbnail of this one: the details stay
        except ClientError as exc:
            self.fail(f"Preview of {res.name}", exc)
            return
        if self.table.current is res:
            self.query_one(PreviewPane).show_image(picture)

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def load_preview(self, res: object) -> None:
        from ocis_cli.client import Resource
        from ocis_tui.remote import PREVIEW_LIMIT

        if self.remote is None or self.drive is None or not isinstance(res, Resource):
            return
        try:
            data = await self.remote.read_head(self.drive.id, res.path)
        except ClientError as exc:
            self.fail(f"Preview of {res.name}", exc)
            return
        if self.table.current is res:
            self.query_one(PreviewPane).show_content(res, data, truncated=len(data) >= PREVIEW_LIMIT
                                                     and res.size > PREVIEW_LIMIT)

    def action_refresh(self) -> None:
        self.load_spaces()

    def action_command_palette(self) -> None:
        self.app.action_command_palette()
