"""`ocis trash ls|restore|purge`: a space's trash bin (deleted files and folders) over WebDAV."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ocis_cli.completion import complete_space
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, human_size, print_json, print_table
from ocis_cli.remotepath import SpaceResolver, parse_remote
from ocis_cli.runner import open_client, run

from .common import OutputOption, YesOption, confirm

if TYPE_CHECKING:
    from ocis_cli.client import TrashEntry

trash_app = typer.Typer(help="List, restore and purge deleted files and folders.",
                        no_args_is_help=True)
SpaceArg = Annotated[str | None, typer.Argument(
    help="Space name or id (default: your personal space).", autocompletion=complete_space)]


def trash_ls(ctx: typer.Context, space: SpaceArg = None, output: OutputOption = Format.table) -> None:
    """List the trash bin of a space, newest first.

    JSON: an array of {key, name, original_location, type (file|folder), size, deleted (ISO 8601
    UTC)}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            drive = await SpaceResolver(client).resolve(space)
            entries = await client.trash.list(drive.id)
        entries.sort(key=lambda e: (e.deleted is None, -(e.deleted.timestamp() if e.deleted else 0)))
        if output is Format.json:
            print_json([e.to_json() for e in entries])
            return
        print_table([Col("KEY"), Col("NAME", fold=True), Col("ORIGINAL LOCATION", fold=True),
                     Col("SIZE"), Col("DELETED")],
                    [[e.key, e.name + ("/" if e.is_folder else ""), "/" + e.original_location,
                      human_size(e.size), e.to_json()["deleted"] or "-"] for e in entries],
                    output=output)

    run(body)


def pick_entry(entries: list[TrashEntry], key: str) -> TrashEntry:
    """An item by exact key, or by a unique key prefix (keys are long uuids)."""
    exact = [e for e in entries if e.key == key]
    if exact:
        return exact[0]
    matches = [e for e in entries if e.key.startswith(key)] if key else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CliError(f"key prefix {key!r} is ambiguous ({len(matches)} items)", ExitCode.USAGE)
    raise CliError(f"no item with key {key!r} in the trash (see `ocis trash ls`)",
                   ExitCode.NOT_FOUND)


def trash_restore(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key of the item (see `ocis trash ls`); a unique "
                                            "prefix is enough.")],
    space: SpaceArg = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="Restore to this path in the space instead of the original location.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace what is there now (it goes to the trash in turn).")] = False,
) -> None:
    """Restore a deleted file or folder, with its file id, to where it was (or to --to PATH)."""

    async def body() -> None:
        from ocis_cli.client import Conflict

        async with open_client(ctx) as client:
            drive = await SpaceResolver(client).resolve(space)
            entry = pick_entry(await client.trash.list(drive.id), key)
            target = parse_remote(to).path if to else "/" + entry.original_location
            if target == "/":
                raise CliError("cannot restore over the root of a space", ExitCode.USAGE)
            try:
                await client.trash.restore(drive.id, entry.key, target, overwrite=overwrite)
            except Conflict as exc:
                if exc.status == 412:
                    raise CliError(f"{target}: already exists (use --overwrite or --to PATH)"
                                   ) from None
                raise CliError(f"{target}: the parent folder does not exist (use --to PATH)"
                               ) from None
        print(f"restored {entry.name} to {target}", file=sys.stderr)

    run(body)


def trash_purge(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(
        help="Key of the item to delete for good (with --all: the space).")] = None,
    space: SpaceArg = None,
    all_items: Annotated[bool, typer.Option("--all", help="Empty the whole trash bin.")] = False,
    yes: YesOption = False,
) -> None:
    """Delete trashed items for good (one by KEY, or everything with --all). Cannot be undone."""

    async def body() -> ExitCode | None:
        where = space
        if all_items:
            if key is not None and space is not None:
                raise CliError("--all takes at most one argument, the space", ExitCode.USAGE)
            where = key if space is None else space
        elif key is None:
            raise CliError("name the KEY of an item, or use --all", ExitCode.USAGE)
        async with open_client(ctx) as client:
            drive = await SpaceResolver(client).resolve(where)
            entries = await client.trash.list(drive.id)
            if all_items:
                if not entries:
                    print("the trash bin is already empty", file=sys.stderr)
                    return ExitCode.OK
                if not confirm(f"Delete all {len(entries)} items in the trash of "
                                f"{drive.name!r} for good?", yes):
                    print("aborted", file=sys.stderr)
                    return ExitCode.FAILURE
                await client.trash.empty(drive.id)
                print(f"purged {len(entries)} items", file=sys.stderr)
                return None
            entry = pick_entry(entries, str(key))
            if not confirm(f"Delete {entry.name!r} (was /{entry.original_location}) for good?",
                            yes):
                print("aborted", file=sys.stderr)
                return ExitCode.FAILURE
            await client.trash.purge(drive.id, entry.key)
        return None

    run(body)


def register(app: typer.Typer) -> None:
    trash_app.command("ls", epilog=(
        "Examples:\n\n  ocis trash ls\n  ocis trash ls Physics -o json"))(trash_ls)
    trash_app.command("restore", epilog=(
        "Examples:\n\n  ocis trash restore 3f2a\n  ocis trash restore 3f2a Physics --to "
        "/restored/report.pdf\n  ocis trash restore 3f2a --overwrite"))(trash_restore)
    trash_app.command("purge", epilog=(
        "Examples:\n\n  ocis trash purge 3f2a -y\n  ocis trash purge --all Physics -y"))(trash_purge)
    app.add_typer(trash_app, name="trash", rich_help_panel="Spaces and files")
