"""What the browser does about sharing: the share dialog (`s`), public links (`L`) and the shares
others made with me (`S`, and the pending count in the spaces list). A mixin of `BrowserScreen`;
every network call runs in a worker, every change is logged for `@`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from ocis_cli.client import ClientError, Resource
from ocis_cli.client.protocol import GROUP, LINK, USER
from ocis_cli.client.shares import ShareInfo
from ocis_tui.dialogs.link import LinkDialog, LinkRequest
from ocis_tui.dialogs.received import ReceivedDialog
from ocis_tui.dialogs.share import ShareDialog, ShareRequest
from ocis_tui.dialogs.text import TextDialog
from ocis_tui.sharing import (
    item_name,
    link_types_for,
    may_share,
    offered_roles,
    recipient_text,
    sharee_cli,
)
from ocis_tui.widgets.spaces import SpacesList

if TYPE_CHECKING:
    from textual.screen import Screen

    from ocis_cli.client import Drive
    from ocis_tui.remote import RemoteApi
    from ocis_tui.settings import TuiSettings
    from ocis_tui.widgets.files import FileTable

    _Base = Screen[None]
else:
    _Base = object


class SharingActions(_Base):
    offered: ShareInfo | None = None      # the received share the last notice announced (`A`)
    _noticed: frozenset[str] = frozenset()  # received shares already announced
    _me: str | None = None                # the user's id, asked once
    if TYPE_CHECKING:      # provided by BrowserScreen and FileActions
        settings: TuiSettings
        remote: RemoteApi | None
        drive: Drive | None
        path: str

        @property
        def table(self) -> FileTable: ...
        def fail(self, what: str, exc: Exception) -> None: ...
        def log_cli(self, action: str, **kwargs: object) -> None: ...
        def writable(self, what: str) -> bool: ...
        def reload(self) -> None: ...
        def load_spaces(self) -> object: ...

    def shareable(self, what: str) -> Resource | None:
        """The item under the cursor if the user may share it; else a warning and None."""
        res = self.table.current
        if res is None:
            self.notify(f"{what}: choose a file or folder", severity="warning")
            return None
        if not self.writable(what):
            return None
        if not may_share(res):
            self.notify(f"{what}: you may not share {res.name} (no share permission here)",
                        severity="warning")
            return None
        return res

    # --- user and group shares -------------------------------------------------------------------

    def action_share(self) -> None:
        res = self.shareable("Share")
        if res is not None:
            self.open_share_dialog(res)

    @work(exclusive=True, group="share-dialog", exit_on_error=False)
    async def open_share_dialog(self, res: Resource) -> None:
        remote = self.remote
        assert remote is not None
        try:
            existing = [s for s in await remote.item_shares(res) if s.share_type in (USER, GROUP)]
            roles = offered_roles(res, await remote.allowed_roles(res))
        except ClientError as exc:
            self.fail(f"Shares of {res.name}", exc)
            return
        if not roles:
            self.notify(f"Share: no role can be granted on {res.name}", severity="warning")
            return

        def answer(request: ShareRequest | None) -> None:
            if request is not None:
                self.share_change(res, request)

        self.app.push_screen(ShareDialog(res, roles, existing, remote.sharees), answer)

    @work(group="changes", exit_on_error=False)
    async def share_change(self, res: Resource, request: ShareRequest) -> None:
        remote = self.remote
        assert remote is not None
        if request.remove is not None:
            share = request.remove
            try:
                await remote.unshare(share.id)
            except ClientError as exc:
                self.fail(f"Removing the share with {recipient_text(share)}", exc)
                return
            self.log_cli("share-rm", options=(share.id,))
            self.notify(f"{res.name} is no longer shared with {recipient_text(share)}")
        else:
            assert request.sharee is not None and request.role is not None
            try:
                await remote.share(res, request.sharee, request.role.name)
            except ClientError as exc:
                self.fail(f"Sharing {res.name}", exc)
                return
            self.log_cli("share-add", path=res.path,
                         options=(sharee_cli(request.sharee), "--role", request.role.name))
            self.notify(f"shared {res.name} with {request.sharee.label or request.sharee.name}"
                        f" as {request.role.name}")
        self.reload()

    # --- public links ----------------------------------------------------------------------------

    def action_link(self) -> None:
        res = self.shareable("Link")
        if res is not None:
            self.open_link_dialog(res)

    @work(exclusive=True, group="link-dialog", exit_on_error=False)
    async def open_link_dialog(self, res: Resource) -> None:
        remote = self.remote
        assert remote is not None
        try:
            links = [s for s in await remote.item_shares(res) if s.share_type == LINK]
        except ClientError as exc:
            self.fail(f"Links of {res.name}", exc)
            return

        def answer(request: LinkRequest | None) -> None:
            if request is not None:
                self.link_change(res, request)

        self.app.push_screen(LinkDialog(res, link_types_for(res), links), answer)

    @work(group="changes", exit_on_error=False)
    async def link_change(self, res: Resource, request: LinkRequest) -> None:
        remote = self.remote
        assert remote is not None
        if request.remove is not None:
            try:
                await remote.unshare(request.remove.id)
            except ClientError as exc:
                self.fail(f"Removing the link {request.remove.url}", exc)
                return
            self.log_cli("link-rm", options=(request.remove.id,))
            self.notify(f"removed the {request.remove.link_type} link to {res.name}")
            return
        try:
            link = await remote.create_link(res, request.link_type, password=request.password,
                                            expire=request.expire)
        except ClientError as exc:
            self.fail(f"Link for {res.name}", exc)
            return
        options = ["--type", request.link_type]
        if request.password:
            options.append("--password-from-env")       # never the password itself
        if request.expire_days:
            options += ["--expire", f"{request.expire_days}d"]
        self.log_cli("link-create", path=res.path, options=options)
        self.show_link(res, link, protected=bool(request.password))

    def show_link(self, res: Resource, link: ShareInfo, *, protected: bool) -> None:
        self.app.copy_to_clipboard(link.url)
        lines = [link.url, "",
                 f"{link.link_type} link to {res.name}"
                 + (" · password protected" if protected else "")
                 + (f" · expires {link.expiration}" if link.expiration else ""),
                 "Copied to the clipboard (where the terminal allows it: OSC 52)."]
        self.app.push_screen(TextDialog("Public link created", "\n".join(lines)))

    # --- shared with me --------------------------------------------------------------------------

    @work(exclusive=True, group="pending", exit_on_error=False)
    async def load_pending(self) -> None:
        """How many received shares wait for an answer: shown under "Shared with me"."""
        if self.remote is None:
            return
        try:
            found = await self.remote.received()
        except ClientError:
            return                        # an older server without the share API: no count
        self.query_one(SpacesList).set_pending(sum(1 for s in found if s.state == "pending"))

    async def concerns_me(self, affected: tuple[str, ...]) -> bool:
        """Whether the signed-in user is among an event's `affecteduserids`."""
        if self.remote is None or not affected:
            return False
        if self._me is None:
            try:
                self._me = await self.remote.user_id()
            except ClientError:
                return False
        return self._me in affected

    @work(exclusive=True, group="offer", exit_on_error=False)
    async def offer_received(self, item_id: str = "", share_id: str = "") -> None:
        """A notice for a share just received and still pending, with the key that accepts it
        (shares accepted automatically need no answer: no notice). The share is named by its
        item (`share-created`) or by its id (`userlog-notification`: local or federated)."""
        if self.remote is None:
            return
        try:
            found = await self.remote.received()
        except ClientError:
            return
        fresh = [s for s in found if s.state == "pending" and s.id not in self._noticed]
        share = next((s for s in reversed(fresh) if (item_id and s.item_id == item_id)
                      or (share_id and s.id == share_id)), None)
        if share is None and not share_id:
            share = fresh[-1] if fresh else None
        if share is None:
            return
        self._noticed = self._noticed | {share.id}
        self.offered = share
        self.notify(f"{item_name(share)} from {share.owner}: press A to accept, S to see all",
                    title="Share received", timeout=30)

    def action_accept_offered(self) -> None:
        share = self.offered
        if share is None:
            self.notify("Accept: no share is waiting (S lists them all)", severity="warning")
        elif self.settings.readonly:
            self.notify("Accept: not in read-only mode (--readonly)", severity="warning")
        else:
            self.offered = None
            self.answer_share("accept", share)

    @work(exclusive=True, group="received", exit_on_error=False)
    async def action_received(self) -> None:
        remote = self.remote
        if remote is None:
            return
        try:
            found = await remote.received()
        except ClientError as exc:
            self.fail("Shared with me", exc)
            return
        self.log_cli("share-ls", options=("--with-me",))
        self.query_one(SpacesList).set_pending(sum(1 for s in found if s.state == "pending"))

        def answer(choice: tuple[str, ShareInfo] | None) -> None:
            if choice is not None and self.writable(choice[0].capitalize()):
                self.answer_share(*choice)

        self.app.push_screen(ReceivedDialog(found, readonly=self.settings.readonly), answer)

    @work(group="changes", exit_on_error=False)
    async def answer_share(self, action: str, share: ShareInfo) -> None:
        remote = self.remote
        assert remote is not None
        try:
            if action == "accept":
                await remote.accept(share.id)
            elif action == "decline":
                await remote.decline(share.id)
            else:
                await remote.hide(share.id, hidden=action == "hide")
        except ClientError as exc:
            self.fail(f"{action.capitalize()} {item_name(share)}", exc)
            return
        if action == "unhide":
            self.log_cli("share-hide", options=(share.id, "--undo"))
        else:
            self.log_cli(f"share-{action}", options=(share.id,))
        done = {"accept": "accepted", "decline": "declined", "hide": "hidden",
                "unhide": "shown again"}[action]
        self.notify(f"{item_name(share)} from {share.owner}: {done}")
        self.load_spaces()               # an accepted share is a new space under Shared with me
