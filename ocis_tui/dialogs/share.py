"""The share dialog (`s`): who has the item, a recipient with completion from the server's sharee
search, and the roles valid for the item. Dismisses with what to do, or None (Esc)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import WorkerCancelled, WorkerFailed

from ocis_cli.client import ClientError, Resource
from ocis_cli.client.shares import Sharee, ShareInfo
from ocis_tui.sharing import RoleChoice, recipient_text, sharee_cli, sharee_text

Search = Callable[[str], Awaitable[list[Sharee]]]


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """Share with `sharee` as `role`, or (with `remove`) take that existing share back."""

    sharee: Sharee | None = None
    role: RoleChoice | None = None
    remove: ShareInfo | None = None


class ShareeSuggester(Suggester):
    """Inline completion (→ accepts) of a user or group name from the sharee search."""

    def __init__(self, search: Search) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        self.search = search

    async def get_suggestion(self, value: str) -> str | None:
        if len(value) < 2:
            return None
        try:
            found = await self.search(value)
        except ClientError:
            return None
        for sharee in found:
            for text in (sharee_cli(sharee), sharee.info):
                if text and text.lower().startswith(value.lower()):
                    return value + text[len(value):]
        return None


class ShareDialog(ModalScreen[ShareRequest | None]):
    DEFAULT_CSS = """
    ShareDialog { align: center middle; }
    ShareDialog > Vertical { width: 76; max-width: 95%; height: auto; max-height: 95%;
                             border: thick $primary; background: $surface; padding: 0 1; }
    ShareDialog OptionList { height: auto; max-height: 5; margin: 0 0 1 0; }
    ShareDialog OptionList:focus { background-tint: $foreground 5%; }
    ShareDialog Input { margin: 0 0 1 0; }
    ShareDialog #error { color: $error; height: auto; }
    ShareDialog .hint { color: $text-muted; }
    ShareDialog .title { text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("x,delete", "remove", "Remove share", show=False)]

    def __init__(self, res: Resource, roles: list[RoleChoice], existing: list[ShareInfo],
                 search: Search) -> None:
        super().__init__()
        self.res = res
        self.roles = roles
        self.existing = existing
        self.search = search
        self.matches: list[Sharee] = []
        self.chosen: Sharee | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Share {self.res.name}{'/' if self.res.is_folder else ''}",
                        classes="title")
            if self.existing:
                yield Label("Shared with (x removes):")
                yield OptionList(*[Option(f"{recipient_text(s)} · {s.role}", id=s.id)
                                   for s in self.existing], id="existing", compact=True)
            else:
                yield Label("Not shared with anyone yet.", classes="hint")
            yield Label("With (user name, e-mail or group; → completes):")
            yield Input(placeholder="type 2+ letters", suggester=ShareeSuggester(self.search),
                        id="recipient", compact=True)
            yield OptionList(id="matches", compact=True)
            yield Label("Role:")
            yield OptionList(*[Option(f"{r.name:<12} {r.label}", id=r.name) for r in self.roles],
                             id="roles", compact=True)
            yield Label("", id="error")
            yield Label("Enter: pick recipient, then Enter on a role · Tab: next · Esc: cancel",
                        classes="hint")

    def on_mount(self) -> None:
        self.query_one("#recipient", Input).focus()

    def problem(self, text: str) -> None:
        self.query_one("#error", Label).update(text)

    # --- recipient -------------------------------------------------------------------------------

    @on(Input.Changed, "#recipient")
    def recipient_changed(self, event: Input.Changed) -> None:
        if self.chosen is not None and event.value != sharee_text(self.chosen):
            self.chosen = None
        if self.chosen is None:
            self.lookup(event.value.strip())

    @work(exclusive=True, group="sharees", exit_on_error=False)
    async def lookup(self, term: str) -> None:
        await asyncio.sleep(0.15)            # typing on: only the last term is searched
        found: list[Sharee] = []
        if len(term) >= 2:
            try:
                found = await self.search(term.removeprefix("group:"))
            except ClientError as exc:
                self.problem(f"searching recipients: {exc.message}")
                return
        self.matches = found
        box = self.query_one("#matches", OptionList)
        box.clear_options()
        box.add_options([Option(sharee_text(s)) for s in found])
        if found:
            box.highlighted = 0
        self.problem("" if found or len(term) < 2 else f"no user or group matches {term!r}")

    def pick(self, sharee: Sharee) -> None:
        self.chosen = sharee
        self.query_one("#recipient", Input).value = sharee_text(sharee)
        self.query_one("#matches", OptionList).clear_options()
        self.problem("")
        self.query_one("#roles", OptionList).focus()

    @on(Input.Submitted, "#recipient")
    async def recipient_submitted(self, event: Input.Submitted) -> None:
        if self.chosen is not None:
            self.query_one("#roles", OptionList).focus()
            return
        text = event.value.strip().lower()
        if not text:
            self.problem("type a recipient")
            return
        try:
            await self.lookup(text).wait()
        except (WorkerCancelled, WorkerFailed):
            return                           # typing went on: the newer search decides
        exact = [s for s in self.matches if text in (s.name.lower(), sharee_cli(s).lower(),
                                                      s.info.lower())]
        index = self.query_one("#matches", OptionList).highlighted
        if exact:
            self.pick(exact[0])
        elif self.matches and index is not None:
            self.pick(self.matches[index])

    @on(OptionList.OptionSelected, "#matches")
    def match_selected(self, event: OptionList.OptionSelected) -> None:
        self.pick(self.matches[event.option_index])

    # --- role, removal ---------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#roles")
    def role_selected(self, event: OptionList.OptionSelected) -> None:
        if self.chosen is None:
            self.problem("choose a recipient first")
            self.query_one("#recipient", Input).focus()
            return
        self.dismiss(ShareRequest(sharee=self.chosen, role=self.roles[event.option_index]))

    def action_remove(self) -> None:
        box = self.focused
        if isinstance(box, OptionList) and box.id == "existing" and box.highlighted is not None:
            self.dismiss(ShareRequest(remove=self.existing[box.highlighted]))

    def action_cancel(self) -> None:
        self.dismiss(None)
