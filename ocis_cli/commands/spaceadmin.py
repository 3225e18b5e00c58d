"""`ocis spaces members add|ls|rm` and `ocis spaces set-quota|rename|disable|restore|purge`:
administering a project space as its manager (or a space admin), over Graph and OCS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.client.protocol import SPACE_ROLES
from ocis_cli.completion import complete_recipient, complete_space
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import (
    CliError,
    Col,
    Format,
    day,
    parse_size,
    print_json,
    print_result,
    print_table,
)
from ocis_cli.remotepath import SpaceResolver
from ocis_cli.runner import open_client, run

from .common import OutputOption, YesOption, run_confirmed
from .shares import check_role, parse_expire
from .spaces import quota_text, spaces_app

if TYPE_CHECKING:
    from ocis_cli.client import Client, Drive, SpaceMember

members_app = typer.Typer(help="Manage the members of a project space.", no_args_is_help=True)
MEMBER_ROLES = SPACE_ROLES
SpaceArg = Annotated[str, typer.Argument(help="Space name or id (see `ocis spaces ls`).",
                                         autocompletion=complete_space)]
MemberArg = Annotated[str, typer.Argument(
    help="User name, e-mail address, or group:NAME for a group.",
    autocompletion=complete_recipient)]


async def project_space(client: Client, space: str) -> Drive:
    drive = await SpaceResolver(client).resolve(space)
    if drive.drive_type != "project":
        raise CliError(f"{drive.name!r} is a {drive.drive_type} space, not a project space",
                       ExitCode.USAGE)
    return drive


def _rfc3339(expire: str) -> str:
    """Graph takes a time: a bare date means the end of that day (UTC), as OCS does."""
    return f"{expire}T23:59:59Z" if len(expire) == 10 else expire


def member_json(member: SpaceMember) -> dict[str, Any]:
    from ocis_cli.client.units import iso_text

    return {"id": member.id, "type": member.kind, "displayName": member.display_name,
            "role": member.role, "expiration": iso_text(member.expiration)}


def drive_json(drive: Drive) -> dict[str, Any]:
    return drive.raw


# --- members --------------------------------------------------------------------------------------

def members_ls(ctx: typer.Context, space: SpaceArg, output: OutputOption = Format.table) -> None:
    """List the members of a project space and their roles.

    JSON: an array of {id, type (user|group), displayName, role, expiration}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            drive = await project_space(client, space)
            members = await client.graph.drive_members(drive.id)
        if output is Format.json:
            print_json([member_json(m) for m in members])
            return
        print_table([Col("NAME", fold=True), Col("TYPE"), Col("ROLE"), Col("EXPIRES"),
                     Col("ID", wide=True)],
                    [[m.display_name or m.id, m.kind, m.role, day(m.expiration), m.id]
                     for m in members], output=output)

    run(body)


def members_add(
    ctx: typer.Context,
    space: SpaceArg,
    member: MemberArg,
    role: Annotated[str, typer.Option(
        "--role", "-r", help=f"Role: {', '.join(MEMBER_ROLES)}.",
        autocompletion=lambda incomplete: [r for r in MEMBER_ROLES if r.startswith(incomplete)],
    )] = "space-viewer",
    expire: Annotated[str | None, typer.Option(
        "--expire", help="Membership ends after: 7d, 12h, 2w, 2030-01-31, an ISO 8601 time "
        "(default: never).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Add a user or group to a project space, or change the role or expiry of a member."""

    async def body() -> None:
        role_name = check_role(role, MEMBER_ROLES, "space")
        expiration = _rfc3339(parse_expire(expire)) if expire else None
        async with open_client(ctx) as client:
            drive = await project_space(client, space)
            name, group = await client.shares.find_recipient(member)
            principal = await client.graph.principal_id(name, group=group)
            added = await client.graph.add_drive_member(drive.id, principal, role=role_name,
                                                        group=group, expiration=expiration)
            members = await client.graph.drive_members(drive.id)
        until = f" until {added.expiration}" if added.expiration else ""
        print_result(output, [member_json(m) for m in members],
                     f"{name} is now {role_name} of {drive.name}{until}")

    run(body)


def members_rm(ctx: typer.Context, space: SpaceArg, member: MemberArg, yes: YesOption = False,
               output: OutputOption = Format.table) -> None:
    """Remove a user or group from a project space (the last manager cannot be removed)."""

    async def find(client: Client) -> tuple[Drive, str, SpaceMember]:
        drive = await project_space(client, space)
        name, group = await client.shares.find_recipient(member)
        principal = await client.graph.principal_id(name, group=group)
        found = [m for m in await client.graph.drive_members(drive.id) if m.id == principal]
        if not found:
            raise CliError(f"{name} is not a member of {drive.name}", ExitCode.NOT_FOUND)
        return drive, name, found[0]

    async def remove(client: Client, found: tuple[Drive, str, SpaceMember]) -> tuple[Any, str]:
        drive, name, gone = found
        await client.graph.remove_drive_member(drive.id, gone)
        members = await client.graph.drive_members(drive.id)
        return ([member_json(m) for m in members], f"{name} is no longer a member of {drive.name}")

    run_confirmed(ctx, yes, output, find=find, act=remove, declined="nothing removed",
                  question=lambda found: f"Remove {found[1]} from {found[0].name}?")


# --- the space itself -------------------------------------------------------------------------

def spaces_set_quota(
    ctx: typer.Context,
    space: SpaceArg,
    quota: Annotated[str, typer.Argument(
        help="New quota: 1024, 500MB, 50GB (decimal), 1.5GiB (binary), or `unlimited`.")],
    output: OutputOption = Format.table,
) -> None:
    """Set the quota of a space (admins and space admins)."""

    async def body() -> None:
        try:
            total = 0 if quota.strip().lower() == "unlimited" else parse_size(quota)
        except ValueError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
        async with open_client(ctx) as client:
            drive = await SpaceResolver(client).resolve(space)
            updated = await client.graph.update_drive(drive.id, quota=total)
        print_result(output, drive_json(updated), f"{updated.name}: quota "
                     f"{quota_text(updated.quota_used, updated.quota_total)}")

    run(body)


def spaces_rename(ctx: typer.Context, space: SpaceArg,
                  name: Annotated[str, typer.Argument(help="The new name.")],
                  output: OutputOption = Format.table) -> None:
    """Rename a project space."""

    async def body() -> None:
        if not name.strip():
            raise CliError("a space name cannot be empty", ExitCode.USAGE)
        async with open_client(ctx) as client:
            drive = await project_space(client, space)
            updated = await client.graph.update_drive(drive.id, name=name)
        print_result(output, drive_json(updated), f"renamed {drive.name} to {updated.name}")

    run(body)


def spaces_disable(ctx: typer.Context, space: SpaceArg, yes: YesOption = False,
                   output: OutputOption = Format.table) -> None:
    """Disable a project space: its members lose access until it is restored."""

    async def disable(client: Client, drive: Drive) -> tuple[Any, str]:
        await client.graph.disable_drive(drive.id)
        return {"disabled": drive.id}, f"disabled {drive.name}"

    run_confirmed(ctx, yes, output, find=lambda client: project_space(client, space),
                  question=lambda drive: f"Disable space {drive.name!r}?", act=disable,
                  declined="nothing changed")


def spaces_restore(ctx: typer.Context, space: SpaceArg, output: OutputOption = Format.table) -> None:
    """Re-enable a disabled project space."""

    async def body() -> None:
        async with open_client(ctx) as client:
            drive = await project_space(client, space)
            updated = await client.graph.restore_drive(drive.id)
        print_result(output, drive_json(updated), f"restored {updated.name}")

    run(body)


def spaces_purge(ctx: typer.Context, space: SpaceArg, yes: YesOption = False,
                 output: OutputOption = Format.table) -> None:
    """Delete a disabled project space and all its files, for good."""

    async def purge(client: Client, drive: Drive) -> tuple[Any, str]:
        await client.graph.purge_drive(drive.id)
        return {"purged": drive.id}, f"purged {drive.name}"

    run_confirmed(ctx, yes, output, find=lambda client: project_space(client, space),
                  question=lambda drive: f"Delete space {drive.name!r} and all its files for good?",
                  act=purge)


def register(app: typer.Typer) -> None:
    del app                                  # everything joins `ocis spaces`
    members_app.command("ls", epilog="Examples:\n\n  ocis spaces members ls Physics -o json")(
        members_ls)
    members_app.command("add", epilog=(
        "Examples:\n\n  ocis spaces members add Physics marie --role space-editor\n"
        "  ocis spaces members add Physics group:physics --role space-viewer"))(members_add)
    members_app.command("rm", epilog="Examples:\n\n  ocis spaces members rm Physics marie -y")(
        members_rm)
    spaces_app.add_typer(members_app, name="members")
    cmd = spaces_app.command
    cmd("set-quota", epilog=(
        "Examples:\n\n  ocis spaces set-quota Physics 50GB\n"
        "  ocis spaces set-quota Physics unlimited"))(spaces_set_quota)
    cmd("rename", epilog="Examples:\n\n  ocis spaces rename Physics 'Physics Lab'")(spaces_rename)
    cmd("disable", epilog="Examples:\n\n  ocis spaces disable Physics -y")(spaces_disable)
    cmd("restore", epilog="Examples:\n\n  ocis spaces restore Physics")(spaces_restore)
    cmd("purge", epilog="Examples:\n\n  ocis spaces disable Physics -y && "
        "ocis spaces purge Physics -y")(spaces_purge)
