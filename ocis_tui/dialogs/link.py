"""The public link dialog (`L`): the item's links (x removes one), then a new one of a type that
fits the item, with an optional password and expiry. Dismisses with a `LinkRequest`, or None."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from ocis_cli.client import Resource
from ocis_cli.client.shares import ShareInfo


@dataclass(frozen=True, slots=True)
class LinkRequest:
    link_type: str
    password: str = ""
    expire: str = ""          # YYYY-MM-DD or ""
    expire_days: int = 0      # what the user typed, for the `ocis link create --expire Nd` line
    remove: ShareInfo | None = None     # set: delete this link instead


def parse_expiry(text: str, today: date | None = None) -> tuple[str, int]:
    """`7`, `7d` or `YYYY-MM-DD` -> (date, days); "" -> ("", 0). ValueError when unreadable or
    not in the future."""
    text = text.strip().lower()
    if not text:
        return "", 0
    today = today or datetime.now(UTC).date()
    if text.removesuffix("d").isdigit():
        days = int(text.removesuffix("d"))
        if days < 1:
            raise ValueError("an expiry is at least one day")
        return (today + timedelta(days=days)).isoformat(), days
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError("expiry: a number of days (7 or 7d) or a date (YYYY-MM-DD)") from None
    if day <= today:
        raise ValueError("expiry: the date must be in the future")
    return day.isoformat(), (day - today).days


class LinkDialog(ModalScreen[LinkRequest | None]):
    DEFAULT_CSS = """
    LinkDialog { align: center middle; }
    LinkDialog > Vertical { width: 80; max-width: 95%; height: auto; max-height: 95%;
                            border: thick $primary; background: $surface; padding: 0 1; }
    LinkDialog OptionList { height: auto; max-height: 7; }
    LinkDialog #error { color: $error; height: auto; }
    LinkDialog .hint { color: $text-muted; }
    LinkDialog .title { text-style: bold; }
    LinkDialog #links { height: auto; max-height: 4; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("x,delete", "remove", "Remove link", show=False)]

    def __init__(self, res: Resource, types: list[tuple[str, str]],
                 links: list[ShareInfo]) -> None:
        super().__init__()
        self.res = res
        self.types = types
        self.links = links

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Public link for {self.res.name}{'/' if self.res.is_folder else ''}",
                        classes="title")
            if self.links:
                yield Label("Links (x removes):")
                yield OptionList(*[Option(f"{s.link_type:<10} {s.url}" + (
                    f"  (expires {s.expiration})" if s.expiration else ""), id=s.id)
                    for s in self.links], id="links", compact=True)
            else:
                yield Label("No links yet.", classes="hint")
            yield Label("New link of type (Enter creates it):")
            yield OptionList(*[Option(f"{name:<10} {text}", id=name) for name, text in self.types],
                             id="types")
            yield Input(placeholder="password (optional)", password=True, id="password")
            yield Input(placeholder="expires in days, e.g. 7 or 7d, or a date (optional)",
                        id="expire")
            yield Label("", id="error")
            yield Label("Tab: password and expiry · Enter: create · Esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#types", OptionList).focus()

    def submit(self) -> None:
        box = self.query_one("#types", OptionList)
        if box.highlighted is None:
            self.query_one("#error", Label).update("choose a link type")
            box.focus()
            return
        try:
            expire, days = parse_expiry(self.query_one("#expire", Input).value)
        except ValueError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        self.dismiss(LinkRequest(self.types[box.highlighted][0],
                                 self.query_one("#password", Input).value, expire, days))

    @on(OptionList.OptionSelected, "#types")
    def type_selected(self, event: OptionList.OptionSelected) -> None:
        self.submit()

    @on(Input.Submitted)
    def field_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def action_remove(self) -> None:
        box = self.focused
        if isinstance(box, OptionList) and box.id == "links" and box.highlighted is not None:
            link = self.links[box.highlighted]
            self.dismiss(LinkRequest(link.link_type, remove=link))

    def action_cancel(self) -> None:
        self.dismiss(None)
