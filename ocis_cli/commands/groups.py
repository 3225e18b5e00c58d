"""`ocis groups add|ls|rm|add-member|rm-member`: groups on the server, managed over Graph as the
current context's user (an admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.output import Col, Format, print_json, print_result, print_table
from ocis_cli.runner import open_client, run

from .common import OutputOption, YesOption, run_confirmed
from .users import PANEL

if TYPE_CHECKING:
    from ocis_cli.client import Client, GroupInfo

groups_app = typer.Typer(help="Manage groups and their members (admins).", no_args_is_help=True)


def group_json(group: GroupInfo) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "description": group.description,
            "members": list(group.members)}


def groups_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Group name.")],
    description: Annotated[str, typer.Option("--description", help="Description.")] = "",
    output: OutputOption = Format.table,
) -> None:
    """Create a group; prints its id (the whole group with -o json)."""

    async def body() -> None:
        async with open_client(ctx) as client:
            group = await client.users.create_group(name, description=description)
        if output is Format.json:
            print_json(group_json(group))
        else:
            print(group.id)

    run(body)


def groups_ls(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option(
        "--search", "-s", help="Only groups whose name contains this (non-admins: at least 3 "
        "characters).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """List groups with their members."""

    async def body() -> None:
        async with open_client(ctx) as client:
            groups = await client.users.list_groups(search=search)
        if output is Format.json:
            print_json([group_json(g) for g in groups])
            return
        print_table([Col("NAME", fold=True), Col("DESCRIPTION", fold=True),
                     Col("MEMBERS", fold=True), Col("ID", wide=True)],
                    [[g.name, g.description or "-", ", ".join(g.members) or "-", g.id]
                     for g in groups], output=output)

    run(body)


def groups_rm(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name or id.")],
    yes: YesOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Delete a group (its members keep their accounts)."""

    async def delete(client: Client, info: GroupInfo) -> tuple[Any, str]:
        await client.users.delete_group(info.id)
        return {"deleted": group_json(info)}, f"deleted group {info.name}"

    run_confirmed(ctx, yes, output, find=lambda client: client.users.group(group),
                  question=lambda info: f"Delete group {info.name!r}?", act=delete)


def groups_add_member(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name or id.")],
    user: Annotated[str, typer.Argument(help="User name or id.")],
    output: OutputOption = Format.table,
) -> None:
    """Add a user to a group (adding a member twice is not an error)."""
    _change_membership(ctx, group, user, output, add=True)


def groups_rm_member(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name or id.")],
    user: Annotated[str, typer.Argument(help="User name or id.")],
    output: OutputOption = Format.table,
) -> None:
    """Remove a user from a group (exit 3 when they are not a member)."""
    _change_membership(ctx, group, user, output, add=False)


def _change_membership(ctx: typer.Context, group: str, user: str, output: Format, *,
                       add: bool) -> None:
    """Add or remove, then show the group as it is now (-o json) or say what changed."""

    async def body() -> None:
        async with open_client(ctx) as client:
            if add:
                await client.users.add_member(group, user)
            else:
                await client.users.remove_member(group, user)
            info = await client.users.group(group)
        change = "is a member" if add else "is no longer a member"
        print_result(output, group_json(info), f"{user} {change} of {info.name}")

    run(body)


def register(app: typer.Typer) -> None:
    groups_app.command("add", epilog=(
        "Examples:\n\n  ocis groups add physics --description 'Physics department'\n"
        "  ocis groups add physics -o json"))(groups_add)
    groups_app.command("ls", epilog="Examples:\n\n  ocis groups ls\n  ocis groups ls -o json")(
        groups_ls)
    groups_app.command("rm", epilog="Examples:\n\n  ocis groups rm physics -y")(groups_rm)
    groups_app.command("add-member", epilog=(
        "Examples:\n\n  ocis groups add-member physics einstein"))(groups_add_member)
    groups_app.command("rm-member", epilog=(
        "Examples:\n\n  ocis groups rm-member physics einstein"))(groups_rm_member)
    app.add_typer(groups_app, name="groups", rich_help_panel=PANEL)
