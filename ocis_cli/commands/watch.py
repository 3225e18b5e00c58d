"""`ocis watch [PATH] [--space NAME]`: changes as the server announces them (its Server-Sent
Events stream), one line each, until Ctrl-C (exit 130, the shell convention, as every command)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.completion import complete_space
from ocis_cli.output import Format
from ocis_cli.remotepath import SpaceResolver
from ocis_cli.runner import open_client, run

from .common import OutputOption

if TYPE_CHECKING:
    from ocis_cli.client import ChangeEvent, Client


class _Names:
    """Display names of initiators and paths of items, looked up once each."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.users: dict[str, str] = {}
        self.paths: dict[str, str] = {}

    async def who(self, user_id: str) -> str:
        if not user_id:
            return "-"
        if user_id not in self.users:
            try:
                self.users[user_id] = (await self.client.users.get(user_id)).display_name
            except Exception:       # noqa: BLE001 - a user we may not look up: show the id
                self.users[user_id] = user_id
        return self.users[user_id] or user_id

    async def path(self, event: ChangeEvent) -> str:
        """Where the item is now; a trashed one: where it was (or its folder)."""
        found = None
        if event.type != "item-trashed":
            found = await self.client.events.path_of(event.item_id)
        if found is None:
            found = self.paths.get(event.item_id)
        if found is None and event.parent_id:
            parent = await self.client.events.path_of(event.parent_id)
            found = None if parent is None else parent.rstrip("/") + "/…"
        if found is not None and event.type != "item-trashed":
            self.paths[event.item_id] = found
        return found or "?"


def _under(path: str, prefix: str) -> bool:
    base = "/" + prefix.strip("/")
    return base == "/" or path == base or path.startswith(base + "/")


def watch(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(
        help="Only changes at or below this path: in your space, or inside a share you "
             "received (its paths start at the shared folder, e.g. /docs).")] = None,
    space: Annotated[str | None, typer.Option(
        "--space", help="Only changes in this space (name or id).",
        autocompletion=complete_space)] = None,
    output: OutputOption = Format.table,
) -> None:
    """Print changes to files, folders and shares as they happen, until Ctrl-C.

    One line per change: time (UTC), event (oCIS names: postprocessing-finished, folder-created,
    item-renamed, item-moved, item-trashed, item-restored, share-created, space-member-added,
    ...), path, and who made it. Only what you may read is shown. A dropped connection is
    reopened and resumes where it stopped.

    JSON (-o json): one object per line: {time, event, path, who, initiator_id, item_id,
    parent_item_id, space_id, etag, id}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            space_id = (await SpaceResolver(client).resolve(space)).id if space else None
            names = _Names(client)
            async for event in client.events.stream():
                if event.type == "userlog-notification":
                    continue            # an in-app notification, not a change
                if space_id is not None and event.space_id != space_id:
                    continue
                where = await names.path(event)
                if path is not None and not _under(where, path):
                    continue
                _print(event, where, await names.who(event.initiator_id), output)

    run(body)


def _print(event: ChangeEvent, where: str, who: str, output: Format) -> None:
    when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if output is Format.json:
        record: dict[str, Any] = {
            "time": when, "event": event.type, "path": where, "who": who,
            "initiator_id": event.initiator_id, "item_id": event.item_id,
            "parent_item_id": event.parent_id, "space_id": event.space_id, "etag": event.etag,
            "id": event.id}
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        sys.stdout.write(f"{when}  {event.type:<24} {where}  {who}\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("watch", rich_help_panel="Spaces and files", epilog=(
        "Examples:\n\n  ocis watch\n  ocis watch /Shares/docs\n  ocis watch --space Physics "
        "-o json"))(watch)
