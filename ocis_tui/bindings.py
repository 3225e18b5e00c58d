"""Every key of the browser in one table: id (the name `[tui.keys]` remaps), default keys, action,
what `?` says about it, and whether it changes data (refused with --readonly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    keys: str              # Textual key names, comma-separated
    action: str
    description: str
    group: str
    mutating: bool = False
    footer: str = ""       # the footer's label; empty: only in `?` and the palette


KEYS: tuple[Key, ...] = (
    Key("help", "question_mark,f1", "help", "Help: every key", "General", footer="Help"),
    Key("palette", "colon", "command_palette", "Command palette (also ctrl+p)", "General"),
    Key("quit", "q", "quit_app", "Quit (asks while transfers run)", "General", footer="Quit"),
    Key("down", "j", "cursor_down", "Down (also the arrow keys)", "Move"),
    Key("up", "k", "cursor_up", "Up", "Move"),
    Key("top", "g,home", "cursor_top", "First entry", "Move"),
    Key("bottom", "G,end", "cursor_bottom", "Last entry", "Move"),
    Key("open", "l,enter,right", "open", "Open the space or folder", "Move", footer="Open"),
    Key("parent", "h,backspace,left", "parent", "Up to the parent folder", "Move"),
    Key("spaces", "tab", "switch_pane", "Switch between spaces and files", "Move"),
    Key("filter", "slash", "filter",
        "Filter as you type (Esc clears); Enter with no match here searches the whole space",
        "Files", footer="Filter"),
    Key("find", "F", "find", "Find by name in the whole space (server search)", "Files"),
    Key("sort", "o", "sort", "Sort by name, size, modified", "Files"),
    Key("mark", "space", "mark", "Mark / unmark (for download and delete)", "Files"),
    Key("preview", "p", "preview", "Preview pane (text, Markdown, images, details)", "Files"),
    Key("refresh", "ctrl+r,f5", "refresh", "Reload from the server", "Files"),
    Key("download", "d", "download", "Download the marked files (or this one)", "Transfers",
        footer="Download"),
    Key("upload", "u", "upload", "Upload a local file here (path prompt)", "Transfers",
        mutating=True, footer="Upload"),
    Key("transfers", "t", "transfers", "Transfers panel (progress, speed, ETA)", "Transfers"),
    Key("cancel", "c", "cancel_transfers", "Cancel the running transfers", "Transfers"),
    Key("mkdir", "n", "mkdir", "New folder", "Change", mutating=True),
    Key("rename", "r", "rename", "Rename", "Change", mutating=True),
    Key("move", "m", "move", "Move to another path of this space (Tab completes)", "Change",
        mutating=True),
    Key("copy", "y", "copy", "Copy to a path of this space (Tab completes)", "Change",
        mutating=True),
    Key("delete", "D,delete", "delete", "Delete the marked entries (asks, default No)", "Change",
        mutating=True),
    Key("trash", "T", "trash", "Trash bin of this space: restore", "Change"),
    Key("cli", "at", "cli_log", "Show the `ocis` command for the last actions", "General"),
    Key("share", "s", "share", "Share with a user or group (recipient, role)", "Share",
        mutating=True),
    Key("link", "L", "link", "Public link: create one, show and copy its URL", "Share",
        mutating=True),
    Key("received", "S", "received", "Shared with me: accept or decline shares", "Share"),
    Key("accept", "A", "accept_offered", "Accept the share a notice just announced", "Share",
        mutating=True),
)

BINDING_IDS = frozenset(k.id for k in KEYS)


def effective_keys(key: Key, remap: dict[str, str]) -> str:
    """The keys bound to `key` after the user's `[tui.keys]` remapping."""
    return remap.get(key.id, key.keys)


def textual_bindings() -> list[Binding]:
    """The table as Textual bindings (with ids, so `App.set_keymap` can remap them)."""
    from textual.binding import Binding

    return [Binding(k.keys, k.action, k.footer or k.description.split(" (")[0], show=bool(k.footer),
                    id=k.id) for k in KEYS]


def display(keys: str) -> str:
    """`question_mark,f1` -> `? f1` for the help screen."""
    names = {"question_mark": "?", "colon": ":", "slash": "/", "at": "@", "space": "Space",
             "enter": "Enter", "backspace": "Backspace", "delete": "Del", "home": "Home",
             "end": "End", "right": "→", "left": "←", "tab": "Tab"}
    return " ".join(names.get(k, k) for k in keys.split(","))
