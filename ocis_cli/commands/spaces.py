"""`ocis spaces ls|create`: the drives (storage spaces) of the signed-in user, through Graph
(members, quota, rename, disable, restore, purge: `spaceadmin.py`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from ocis_cli.commands.common import OutputOption
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, human_size, parse_size, print_json, print_table
from ocis_cli.runner import open_client, run

if TYPE_CHECKING:
    from ocis_cli.client import Client, Drive

spaces_app = typer.Typer(help="List, create and administer storage spaces and their members.",
                         no_args_is_help=True)


def quota_text(used: int | None, total: int | None) -> str:
    """'1.5 KiB / 10.0 GiB'; a total of 0 or none means no limit."""
    limit = human_size(total) if total else "unlimited"
    return f"{human_size(used or 0)} / {limit}"


def spaces_ls(
    ctx: typer.Context,
    output: OutputOption = Format.table,
) -> None:
    """List the spaces you can reach: your personal space, project spaces, each share made
    with you (type mountpoint), each share from another server (type federated, owner
    `user@domain`, "(unreachable)" while that server does not answer) and each space of another
    server you registered with `ocis remote add` (type remote, owner that server's domain,
    "(unreachable)" when it does not answer your token): name, type, owner, your role, quota
    used/total; `-o wide` adds the id and the WebDAV URL.

    JSON output is the array of Graph drive objects exactly as the server returns them (its
    `v1beta1` list: with the share jail, type virtual, and the shares' mount points).
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            raw = await client.graph.my_drives_raw(shares=True)
            me = await client.graph.me()
            if output is Format.json:
                print_json(raw)
                return
            from ocis_cli.client import Drive

            drives = [Drive.from_graph(d) for d in raw]
            down = await remote_states(client, drives)
        print_table([Col("NAME", fold=True), Col("TYPE"), Col("OWNER", fold=True), Col("ROLE"),
                     Col("QUOTA"), Col("ID", wide=True), Col("WEBDAV URL", wide=True)],
                    [space_row(d, str(me.get("id", "")), down.get(d.id, "")) for d in drives
                     if d.drive_type != "virtual"], output=output)

    run(body)


async def remote_states(client: Client, drives: list[Drive]) -> dict[str, str]:
    """Why each registered remote space does not answer your token now (side by side,
    bounded; only with an OpenID Connect sign-in, the one that can open it)."""
    from ocis_cli.client import RemoteEntry

    linked = [d for d in drives if d.is_remote_link]
    if not linked or client.http.bearer is None:
        return {}
    entries = [RemoteEntry(d.id, d.id, d.name, d.web_dav_url, d.owner_id, "") for d in linked]
    found = await asyncio.gather(*(client.remotes.check(e) for e in entries))
    return {d.id: why for d, why in zip(linked, found, strict=True) if why}


def space_row(drive: Drive, me: str, down: str = "") -> list[str]:
    """A row of `spaces ls`: a share shows its owner and the role it gives you, a project space
    its managers and your membership."""
    from ocis_cli.client.graph import members_of

    if drive.is_remote_link:    # registered by URL: the other server's domain, its state
        kind = "remote" + (" (unreachable)" if down else "")
        return [drive.name, kind, drive.owner_id or "-", "-", "-", drive.id, drive.web_dav_url]

    if drive.is_federated:      # a remote space: its owner's federated address, its server's state
        role = ", ".join(role_name(r) for r in drive.share_role_ids)
        kind = "federated" + (" (unreachable)" if drive.unreachable else "")
        return [drive.name, kind, drive.owner_id or "-", role or "-", "-", drive.id,
                drive.web_dav_url]
    if drive.is_share:
        owner, role = drive.owner_name, ", ".join(role_name(r) for r in drive.share_role_ids)
        quota = "-"
    else:
        members = members_of(drive.raw)
        managers = [m.display_name for m in members if m.role == "manager"]
        owner = (drive.owner_name if drive.drive_type == "personal" else ", ".join(managers))
        mine = [m.role for m in members if m.id == me]
        role = mine[0] if mine else ("manager" if drive.owner_id == me else "-")
        quota = quota_text(drive.quota_used, drive.quota_total)
    return [drive.name, drive.drive_type, owner or "-", role or "-", quota, drive.id,
            drive.web_dav_url]


def role_name(role_id: str) -> str:
    """A unified role id as the CLI names the role (`viewer`, `space-editor`, ...)."""
    from ocis_server.domain import roles
    from ocis_server.domain.errors import BadRequest

    try:
        return roles.by_id(role_id).cli_name
    except BadRequest:
        return role_id


def spaces_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new project space.")],
    quota: Annotated[str | None, typer.Option(
        "--quota", help="Quota, e.g. 500MB, 50GB, 1.5GiB (default: server default).")] = None,
    description: Annotated[str | None, typer.Option("--description", help="Description.")] = None,
    managers: Annotated[list[str] | None, typer.Option(
        "--manager", help="Also make this user (name, e-mail or group:NAME) a manager; "
        "repeatable.")] = None,
    output: OutputOption = Format.table,
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
        "Examples:\n\n  ocis spaces ls\n  ocis spaces ls -o wide\n  ocis spaces ls -o json"))(spaces_ls)
    spaces_app.command("create", epilog=(
        "Examples:\n\n  ocis spaces create Physics --quota 50GB --description 'Lab data'\n"
        "  ocis spaces create Physics --manager marie --manager group:physics\n"
        "  ocis spaces create Physics -o json"))(spaces_create)
    app.add_typer(spaces_app, name="spaces", rich_help_panel="Spaces and files")
