"""`ocis spaces ls|create`: the drives (storage spaces) of the signed-in user, through Graph
(members, quota, rename, disable, restore, purge: `spaceadmin.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import (
    CliError,
    Format,
    human_size,
    parse_size,
    print_json,
    print_table,
)
from ocis_cli.runner import open_client, run

spaces_app = typer.Typer(help="List, create and administer storage spaces and their members.",
                         no_args_is_help=True)


def quota_text(used: int | None, total: int | None) -> str:
    """'1.5 KiB / 10.0 GiB'; a total of 0 or none means no limit."""
    limit = human_size(total) if total else "unlimited"
    return f"{human_size(used or 0)} / {limit}"


def spaces_ls(
    ctx: typer.Context,
    output: Annotated[Format, typer.Option("--output", "-o", help="table or json")] = Format.table,
) -> None:
    """List the spaces you can reach: name, type, id, quota used/total, WebDAV URL.

    JSON output is the array of Graph drive objects exactly as the server returns them.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            raw = await client.graph.my_drives_raw()
        if output is Format.json:
            print_json(raw)
            return
        from ocis_cli.client import Drive

        drives = [Drive.from_graph(d) for d in raw]
        print_table(["NAME", "TYPE", "ID", "QUOTA", "WEBDAV URL"],
                    [[d.name, d.drive_type, d.id, quota_text(d.quota_used, d.quota_total),
                      d.web_dav_url] for d in drives], no_wrap=("ID",))

    run(body)


def spaces_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new project space.")],
    quota: Annotated[str | None, typer.Option(
        "--quota", help="Quota, e.g. 500MB, 50GB, 1.5GiB (default: server default).")] = None,
    description: Annotated[str | None, typer.Option("--description", help="Description.")] = None,
    managers: Annotated[list[str] | None, typer.Option(
        "--manager", help="Also make this user (name, e-mail or group:NAME) a manager; "
        "repeatable.")] = None,
    output: Annotated[Format, typer.Option("--output", "-o", help="table or json")] = Format.table,
) -> None:
    """Create a project space (you become its manager)."""
    try:
        quota_bytes = parse_size(quota) if quota is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--quota") from None
    if not name.strip():
        raise CliError("a space name cannot be empty", ExitCode.USAGE)

    async def body() -> None:
        async with open_client(ctx) as client:
            drive = await client.graph.create_drive(name, quota=quota_bytes, description=description)
            for manager in managers or ():
                who, group = await client.shares.find_recipient(manager)
                principal = await client.graph.principal_id(who, group=group)
                await client.graph.add_drive_member(drive.id, principal, role="manager",
                                                    group=group)
            if managers:
                drive = await client.graph.drive(drive.id)
        if output is Format.json:
            print_json(drive.raw)
        else:
            print(drive.id)

    run(body)


def register(app: typer.Typer) -> None:
    spaces_app.command("ls", epilog=(
        "Examples:\n\n  ocis spaces ls\n  ocis spaces ls -o json"))(spaces_ls)
    spaces_app.command("create", epilog=(
        "Examples:\n\n  ocis spaces create Physics --quota 50GB --description 'Lab data'\n"
        "  ocis spaces create Physics --manager marie --manager group:physics\n"
        "  ocis spaces create Physics -o json"))(spaces_create)
    app.add_typer(spaces_app, name="spaces", rich_help_panel="Spaces and files")
