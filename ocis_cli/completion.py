"""Dynamic shell completion (typer autocompletion callbacks): remote paths, space and share names,
recipients and context names, asked of the server as rclone and kubectl do. What the server
answered is cached for CACHE_SECONDS (5 s) in `user_cache_dir("ocis")/completion` (0600 files), so the
TABs that follow one another while a path is typed cost no request. A callback never fails: any
error (no context, server down, a slow answer) completes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer          # typer reads the callbacks' `ctx: typer.Context` annotations at run time

if TYPE_CHECKING:
    from ocis_cli.client import Client
    from ocis_cli.contexts import Context

CACHE_SECONDS = 5.0                  # OCIS_COMPLETION_CACHE_SECONDS overrides (0: no cache)
TIMEOUT_SECONDS = 4.0


def cache_seconds() -> float:
    try:
        return float(os.environ.get("OCIS_COMPLETION_CACHE_SECONDS", CACHE_SECONDS))
    except ValueError:
        return CACHE_SECONDS


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ocis", appauthor=False)) / "completion"


def _cached(key: list[str], fetch: Callable[[], list[str]]) -> list[str]:
    """`fetch()`, or what it returned for `key` less than CACHE_SECONDS ago."""
    folder = cache_dir()
    path = folder / (hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32] + ".json")
    try:
        if time.time() - path.stat().st_mtime < cache_seconds():
            value = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(value, list):
                return [str(v) for v in value]
    except (OSError, ValueError):
        pass
    value = fetch()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # names may be private
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
        os.replace(tmp, path)
    except OSError:
        pass
    return value


def _context(ctx: typer.Context | None) -> Context | None:
    """The context the command line names (--context), else OCIS_CONTEXT, else the current one."""
    from ocis_cli.contexts import ContextStore

    name = None
    if ctx is not None:
        name = ctx.find_root().params.get("context")
    try:
        return ContextStore().resolve(name or os.environ.get("OCIS_CONTEXT") or None)
    except Exception:                      # noqa: BLE001 - completion never fails
        return None


def _ask(context: Context, question: Callable[[Client], Awaitable[list[str]]]) -> list[str]:
    from ocis_cli.credentials import client_for

    async def main() -> list[str]:
        async with client_for(context) as client:
            return await asyncio.wait_for(question(client), TIMEOUT_SECONDS)

    return asyncio.run(main())


def _safely(make: Callable[[], list[str]]) -> list[str]:
    try:
        return make()
    except Exception:                      # noqa: BLE001 - completion never fails
        return []


def _key(context: Context, *parts: str) -> list[str]:
    return [context.name, context.url, context.user, *parts]


def _space_names(context: Context) -> list[str]:
    async def names(client: Client) -> list[str]:
        return [d.name for d in await client.graph.my_drives(shares=True)
                if d.drive_type != "virtual"]

    return _cached(_key(context, "spaces"), lambda: _ask(context, names))


def _entries(context: Context, space: str | None, folder: str) -> list[str]:
    """The names in a remote folder, folders ending in '/'."""
    from ocis_cli.remotepath import RemotePath, SpaceResolver

    async def names(client: Client) -> list[str]:
        drive, rp = await SpaceResolver(client).locate(RemotePath(space, folder))
        found = await client.webdav.propfind(drive.id, rp.path, depth=1)
        return [r.name + ("/" if r.is_folder else "") for r in found
                if r.path.rstrip("/") != rp.path.rstrip("/")]

    return _cached(_key(context, "ls", space or "", folder), lambda: _ask(context, names))


def remote_paths(context: Context, incomplete: str) -> list[str]:
    """Candidates for a remote path being typed: `SPACE:/dir/pa`, `/dir/pa`, or a space name."""
    from ocis_cli.remotepath import SHARES

    head, sep, tail = incomplete.partition(":")
    space: str | None = None
    rest = incomplete
    if sep and "/" not in head:
        space, rest = head, tail or "/"
    out: list[str] = []
    if not sep and "/" not in incomplete:
        out += [f"{name}:/" for name in _space_names(context) if name.startswith(incomplete)]
    folder, _, partial = ("/" + rest.lstrip("/")).rpartition("/")
    prefix = (f"{space}:" if space is not None else "") + folder + "/"
    if rest and not rest.startswith("/"):
        prefix = prefix.lstrip("/")
    entries = _entries(context, space, folder or "/")
    if space is None and folder == "":
        entries = [*entries, f"{SHARES}/"]
    out += [prefix + name for name in entries if name.startswith(partial)]
    return sorted(set(out))


def complete_remote_path(ctx: typer.Context, incomplete: str) -> list[str]:
    context = _context(ctx)
    return _safely(lambda: remote_paths(context, incomplete)) if context else []


def complete_space(ctx: typer.Context, incomplete: str) -> list[str]:
    context = _context(ctx)
    if context is None:
        return []
    return _safely(lambda: [n for n in _space_names(context) if n.startswith(incomplete)])


def complete_recipient(ctx: typer.Context, incomplete: str) -> list[str]:
    """Users (by login name) and groups (`group:NAME`) the server's sharee search finds."""
    context = _context(ctx)
    group = incomplete.startswith("group:")
    search = incomplete.removeprefix("group:")
    if context is None or len(search) < 2:
        return []

    async def names(client: Client) -> list[str]:
        found = await client.shares.sharees(search)
        return sorted({("group:" if s.kind == "group" else "") + s.name for s in found})

    def make() -> list[str]:
        every = _cached(_key(context, "sharees", search), lambda: _ask(context, names))
        return [n for n in every if n.startswith(incomplete) or (
            not group and n.removeprefix("group:").startswith(incomplete))]

    return _safely(make)


def complete_context(incomplete: str) -> list[str]:
    from ocis_cli.contexts import ContextStore

    return _safely(lambda: [c.name for c in ContextStore().all()
                            if c.name.startswith(incomplete)])
