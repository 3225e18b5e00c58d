"""What the browser does to files: transfers, new folder, rename, delete, trash; plus help, the `@`
command log and quitting. A mixin of `BrowserScreen`; every network call runs in a worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from ocis_cli.client import ClientError, Drive, Resource, TrashEntry
from ocis_tui.completion import local_completer, remote_completer
from ocis_tui.dialogs.confirm import ConfirmDialog
from ocis_tui.dialogs.prompt import PromptDialog, name_problem
from ocis_tui.dialogs.text import HelpDialog, TextDialog
from ocis_tui.dialogs.trash import TrashDialog
from ocis_tui.messages import TransferFinished
from ocis_tui.transfers import State, Transfer
from ocis_tui.widgets.transfers import TransfersPanel

if TYPE_CHECKING:
    from textual.screen import Screen

    from ocis_tui.remote import RemoteApi
    from ocis_tui.settings import TuiSettings
    from ocis_tui.transfers import Transfers
    from ocis_tui.widgets.files import FileTable

    _Base = Screen[None]
else:
    _Base = object


def join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def local_file_problem(text: str) -> str | None:
    path = Path(text).expanduser()
    if not path.exists():
        return f"{path}: no such local file"
    if not path.is_file():
        return f"{path}: not a regular file (folders are not uploaded)"
    return None


def remote_path_problem(text: str) -> str | None:
    """Each name of a path in the space by oCIS's rules (an empty path is the space's root)."""
    for name in text.strip("/").split("/"):
        if name and (problem := name_problem(name)):
            return problem
    return None


def local_folder_problem(text: str) -> str | None:
    path = Path(text).expanduser()
    return None if path.is_dir() else f"{path}: no such local folder"


class FileActions(_Base):
    if TYPE_CHECKING:      # provided by BrowserScreen
        settings: TuiSettings
        transfers: Transfers
        following: bool          # the change stream is followed (uploads wait for its word)
        remote: RemoteApi | None
        drive: Drive | None
        path: str
        cli_log: list[str]

        @property
        def table(self) -> FileTable: ...
        def fail(self, what: str, exc: Exception) -> None: ...
        def log_cli(self, action: str, **kwargs: object) -> None: ...
        def load_listing(self, path: str, keep: str | None = None, *,
                         log: bool = True) -> object: ...
        def reload(self) -> None: ...

    # --- general ---------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.app.push_screen(HelpDialog(self.settings.keys, readonly=self.settings.readonly))

    def action_cli_log(self) -> None:
        body = "\n".join(self.cli_log[-20:]) or "Nothing done yet."
        self.app.push_screen(TextDialog("The same, with the ocis CLI (latest last)", body))

    def action_quit_app(self) -> None:
        running = self.transfers.active
        if not running:
            self.app.exit(0)
            return

        def answer(quit_now: bool | None) -> None:
            if quit_now:
                self.app.workers.cancel_group(self, "transfers")
                self.app.exit(0)

        self.app.push_screen(ConfirmDialog(
            f"{len(running)} transfer(s) still running. Cancel them and quit?",
            yes="Quit"), answer)

    def writable(self, what: str) -> bool:
        if self.settings.readonly:
            self.notify(f"{what}: not in read-only mode (--readonly)", severity="warning")
            return False
        if self.drive is None or self.remote is None:
            self.notify(f"{what}: open a space first", severity="warning")
            return False
        return True

    # --- new folder, rename, delete --------------------------------------------------------------

    def action_mkdir(self) -> None:
        if not self.writable("New folder"):
            return
        folder = self.path

        def create(name: str | None) -> None:
            if name:
                self.change(f"New folder {name}", "mkdir", join(folder, name))

        self.app.push_screen(PromptDialog(f"New folder in {folder}", validate=name_problem), create)

    def action_rename(self) -> None:
        res = self.table.current
        if res is None or not self.writable("Rename"):
            return

        def rename(name: str | None) -> None:
            if name and name != res.name:
                self.change(f"Rename {res.name}", "rename", res.path,
                            join(res.path.rsplit("/", 1)[0], name))

        self.app.push_screen(PromptDialog(f"Rename {res.name} to", value=res.name,
                                          validate=name_problem), rename)

    def action_move(self) -> None:
        self._relocate("move")

    def action_copy(self) -> None:
        self._relocate("copy")

    def _relocate(self, action: str) -> None:
        """Move or copy the entry under the cursor to a path of this space (Tab completes it;
        a path ending in / keeps the name)."""
        res = self.table.current
        verb = action.capitalize()
        if res is None or not self.writable(verb) or self.remote is None or self.drive is None:
            return

        def go(text: str | None) -> None:
            if not text:
                return
            target = "/" + text.strip("/") if not text.endswith("/") else \
                join("/" + text.strip("/") if text.strip("/") else "/", res.name)
            if target != res.path:
                self.change(f"{verb} {res.name}", action, res.path, target, folder=res.is_folder)

        self.app.push_screen(PromptDialog(
            f"{verb} {res.name} to (a folder ending in / keeps the name)", value=res.path,
            validate=remote_path_problem,
            complete=remote_completer(self.remote, self.drive.id)), go)

    def action_delete(self) -> None:
        chosen = self.table.selection()
        if not chosen or not self.writable("Delete"):
            return
        what = chosen[0].name if len(chosen) == 1 else f"{len(chosen)} entries"

        def delete(yes: bool | None) -> None:
            if yes:
                for res in chosen:
                    self.change(f"Delete {res.name}", "delete", res.path, folder=res.is_folder)

        self.app.push_screen(ConfirmDialog(
            f"Delete {what}? It goes to the trash bin of {self.drive.name if self.drive else ''}.",
            yes="Delete"), delete)

    @work(group="changes", exit_on_error=False)
    async def change(self, what: str, action: str, path: str, target: str = "", *,
                     folder: bool = False) -> None:
        remote, drive = self.remote, self.drive
        if remote is None or drive is None:
            return
        try:
            if action == "mkdir":
                await remote.mkdir(drive.id, path)
            elif action in ("rename", "move"):
                await remote.rename(drive.id, path, target)
            elif action == "copy":
                await remote.copy(drive.id, path, target)
            elif action == "delete":
                await remote.delete(drive.id, path)
        except ClientError as exc:
            self.fail(what, exc)
            return
        self.log_cli(action, path=path, target=target, folder=folder)
        self.table.marked.discard(path)
        if self.drive is drive:
            keep = target or (path if action == "mkdir" else None)
            self.load_listing(self.path, keep, log=False)

    # --- trash -----------------------------------------------------------------------------------

    @work(exclusive=True, group="trash", exit_on_error=False)
    async def action_trash(self) -> None:
        remote, drive = self.remote, self.drive
        if remote is None or drive is None:
            return
        try:
            entries = await remote.trash(drive.id)
        except ClientError as exc:
            self.fail(f"Trash bin of {drive.name}", exc)
            return
        self.log_cli("trash")

        def restore(entry: TrashEntry | None) -> None:
            if entry is not None and self.writable("Restore"):
                self.restore(drive, entry)

        self.app.push_screen(TrashDialog(drive.name, entries, readonly=self.settings.readonly),
                             restore)

    @work(group="changes", exit_on_error=False)
    async def restore(self, drive: Drive, entry: TrashEntry) -> None:
        assert self.remote is not None
        try:
            await self.remote.restore(drive.id, entry)
        except ClientError as exc:
            self.fail(f"Restore {entry.name}", exc)
            return
        self.log_cli("restore", target=entry.key)
        self.notify(f"restored {entry.name} to /{entry.original_location.lstrip('/')}")
        if self.drive is drive:
            self.reload()

    # --- transfers -------------------------------------------------------------------------------

    def action_transfers(self) -> None:
        panel = self.query_one(TransfersPanel)
        panel.set_class(not panel.has_class("shown"), "shown")
        panel.redraw()

    def show_transfers(self) -> None:
        panel = self.query_one(TransfersPanel)
        panel.add_class("shown")
        panel.redraw()

    def action_cancel_transfers(self) -> None:
        cancelled = self.app.workers.cancel_group(self, "transfers")
        if cancelled:
            self.notify(f"cancelling {len(cancelled)} transfer(s)")

    def action_download(self) -> None:
        files = [r for r in self.table.selection() if not r.is_folder]
        if not files or self.drive is None:
            self.notify("Download: choose a file (folders are not downloaded)", severity="warning")
            return
        drive = self.drive

        def start(folder: str | None) -> None:
            if folder:
                target = Path(folder).expanduser()
                for res in files:
                    self.transfer_download(drive, res, target / res.name)
                self.table.marked.clear()
                self.table.render_rows()
                self.show_transfers()

        what = files[0].name if len(files) == 1 else f"{len(files)} files"
        self.app.push_screen(PromptDialog(f"Download {what} into local folder",
                                          value=str(Path.cwd()), validate=local_folder_problem,
                                          complete=local_completer(folders_only=True)), start)

    def action_upload(self) -> None:
        if not self.writable("Upload"):
            return
        assert self.drive is not None
        drive, folder = self.drive, self.path

        def start(text: str | None) -> None:
            if text:
                local = Path(text).expanduser()
                self.transfer_upload(drive, folder, local)
                self.show_transfers()

        self.app.push_screen(PromptDialog(
            f"Upload a local file into {drive.name}:{folder} (same name: a new version)",
            value=str(Path.cwd()) + "/", validate=local_file_problem,
            complete=local_completer()), start)

    def transfer_download(self, drive: Drive, res: Resource, local: Path) -> None:
        item = self.transfers.add("download", res.name, res.size)
        self.log_cli("download", path=res.path, local=str(local))
        remote = self.remote
        assert remote is not None
        self.run_worker(self._run_transfer(
            item, drive.id, res.path.rsplit("/", 1)[0] or "/",
            lambda: remote.download(drive.id, res.path, local, item.update)),
            group="transfers", exit_on_error=False)

    def transfer_upload(self, drive: Drive, folder: str, local: Path) -> None:
        path = join(folder, local.name)
        item = self.transfers.add("upload", local.name, local.stat().st_size,
                                  space_id=drive.id, path=path)
        self.log_cli("upload", path=path, local=str(local))
        remote = self.remote
        assert remote is not None
        self.run_worker(self._run_transfer(
            item, drive.id, folder, lambda: remote.upload(drive.id, path, local, item.update)),
            group="transfers", exit_on_error=False)

    async def _run_transfer(self, item: Transfer, space_id: str, folder: str,
                            job: Callable[[], Awaitable[object]]) -> None:
        item.start()
        verb = "uploaded" if item.direction == "upload" else "downloaded"
        try:
            answer = await job()
        except asyncio.CancelledError:
            item.finish(State.CANCELLED)
            self.notify(f"{item.name}: cancelled", severity="warning")
            raise
        except (ClientError, OSError) as exc:
            reason = exc.message if isinstance(exc, ClientError) else str(exc)
            item.finish(State.FAILED, reason)
            self.notify(f"{item.name}: {item.direction} failed: {reason}", severity="error",
                        timeout=15)
        else:
            item.item_id = answer if isinstance(answer, str) else ""   # an upload's file id
            self.transfers.settle(item, following=self.following)
            self.notify(f"{verb} {item.name}")
        finally:
            self.post_message(TransferFinished(item, space_id, folder))
