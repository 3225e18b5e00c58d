"""Tab completion in the path prompts: local paths from the file system (upload, download),
remote paths from the listings of the space on screen (move, copy). A completer maps what is
typed to the full values it could become; `complete_value` turns those into the new input."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from ocis_cli.client import ClientError
from ocis_tui.remote import RemoteApi

Completer = Callable[[str], Awaitable[list[str]]]
MAX_LISTED = 200          # entries of one folder considered (a huge folder stays quick)


def _split(text: str) -> tuple[str, str]:
    """('what is typed up to the last /', 'the part being completed')."""
    head, sep, prefix = text.rpartition("/")
    return (head + sep, prefix)


def _matches(names: list[tuple[str, bool]], typed: str, *, folders_only: bool) -> list[str]:
    head, prefix = _split(typed)
    hidden = prefix.startswith(".")
    found = [head + name + ("/" if is_dir else "") for name, is_dir in names
             if name.startswith(prefix) and (hidden or not name.startswith("."))
             and (is_dir or not folders_only)]
    return sorted(found)[:MAX_LISTED]


def _local_names(folder: Path) -> list[tuple[str, bool]]:
    try:
        with os.scandir(folder) as entries:
            return [(e.name, e.is_dir()) for e in entries]
    except OSError:
        return []


def local_completer(*, folders_only: bool = False) -> Completer:
    """Paths on this machine; `~` is understood, the text keeps the form it was typed in."""

    async def complete(text: str) -> list[str]:
        head, _ = _split(text)
        folder = Path(os.path.expanduser(head)) if head else Path.cwd()
        names = await asyncio.to_thread(_local_names, folder)
        return _matches(names, text, folders_only=folders_only)

    return complete


def remote_completer(remote: RemoteApi, space_id: str, *, folders_only: bool = False) -> Completer:
    """Paths in one space of the server (absolute, as the prompts show them)."""

    async def complete(text: str) -> list[str]:
        typed = text if text.startswith("/") else "/" + text
        head, _ = _split(typed)
        try:
            entries = await remote.listing(space_id, head.rstrip("/") or "/")
        except ClientError:
            return []
        names = [(r.name, r.is_folder) for r in entries]
        return _matches(names, typed, folders_only=folders_only)

    return complete


def complete_value(text: str, candidates: list[str]) -> tuple[str, list[str]]:
    """(the new input, the choices to show): the one candidate, else their longest common
    start (never shorter than what is typed) and the candidates."""
    if not candidates:
        return text, []
    if len(candidates) == 1:
        return candidates[0], []
    common = os.path.commonprefix(candidates)
    return (common if len(common) > len(text) else text), candidates
