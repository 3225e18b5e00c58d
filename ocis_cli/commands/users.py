"""`ocis users add|ls|show|rm|passwd|set-role`: accounts on the server, managed over Graph as the
current context's user (an admin). Passwords never come from argv: $OCIS_PASSWORD (or occ's
$OC_PASS) with --password-from-env, a file with --password-file, or a no-echo double prompt."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, err, print_json, print_result, print_table
from ocis_cli.runner import open_client, run

from .common import (
    OutputOption,
    YesOption,
    env_password,
    read_password_file,
    require_password_prompt,
    run_confirmed,
    service_group,
)

if TYPE_CHECKING:
    from ocis_cli.client import Client, UserInfo

PANEL = "Users and groups"
ROLES = ("admin", "spaceadmin", "user", "guest")

FromEnvOption = Annotated[bool, typer.Option(
    "--password-from-env", help="Read the new password from $OCIS_PASSWORD (or $OC_PASS).")]
FileOption = Annotated[Path | None, typer.Option(
    "--password-file", help="Read the new password from the first line of this file.")]


def new_password(from_env: bool, password_file: Path | None) -> str:
    """The password to set, from the environment, a file or a double no-echo prompt."""
    if from_env and password_file is not None:
        raise CliError("use either --password-from-env or --password-file", ExitCode.USAGE)
    if from_env:
        return env_password()
    if password_file is not None:
        line = read_password_file(password_file).splitlines()
        if not line or not line[0]:
            raise CliError(f"{password_file} holds no password on its first line", ExitCode.USAGE)
        return line[0]
    require_password_prompt()
    first = str(typer.prompt("New password", hide_input=True))
    if str(typer.prompt("Repeat the password", hide_input=True)) != first:
        raise CliError("the passwords do not match", ExitCode.USAGE)
    if not first:
        raise CliError("the password must not be empty", ExitCode.USAGE)
    return first


def user_json(user: UserInfo) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "displayName": user.display_name,
            "mail": user.email, "userType": user.user_type, "role": user.role,
            "groups": list(user.groups)}


def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    display_name: Annotated[str, typer.Option("--display-name", help="Full name.")] = "",
    email: Annotated[str, typer.Option("--email", help="E-mail address.")] = "",
    guest: Annotated[bool, typer.Option(
        "--guest", help="Create a guest (role guest: only what is shared with them).")] = False,
    group: Annotated[list[str] | None, typer.Option(
        "--group", "-g", help="Add the user to this group (repeatable).")] = None,
    role: Annotated[str | None, typer.Option(
        "--role", help="admin, spaceadmin, user or guest (default: user; guest for --guest).")] = None,
    password_from_env: FromEnvOption = False,
    password_file: FileOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Create a user; prints the new user's id (the whole user with -o json)."""
    if role is not None and role not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}", param_hint="--role")

    async def body() -> None:
        password = new_password(password_from_env, password_file)
        async with open_client(ctx) as client:
            made = await client.users.create(name, password, display_name=display_name,
                                             email=email, guest=guest)
            for g in group or []:
                await client.users.add_member(g, made.id)
            if role is not None:
                await client.users.set_role(made.id, role)
            user = await client.users.get(made.id)
        if output is Format.json:
            print_json(user_json(user))
        else:
            print(user.id)

    run(body)


def users_ls(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option(
        "--search", "-s", help="Only users whose name, display name or e-mail contains this "
        "(non-admins must give at least 3 characters).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """List users: name, display name, e-mail, type, role, groups."""

    async def body() -> None:
        async with open_client(ctx) as client:
            users = await client.users.list_users(search=search)
        if output is Format.json:
            print_json([user_json(u) for u in users])
            return
        print_table([Col("USERNAME"), Col("DISPLAY NAME", fold=True), Col("EMAIL", fold=True),
                     Col("ROLE"), Col("TYPE", wide=True), Col("GROUPS", wide=True),
                     Col("ID", wide=True)],
                    [[u.username, u.display_name or "-", u.email or "-", u.role or "-",
                      u.user_type, ", ".join(u.groups) or "-", u.id] for u in users],
                    output=output)

    run(body)


def users_show(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User name or id.")],
    output: OutputOption = Format.table,
) -> None:
    """Show one user with their role and groups."""

    async def body() -> None:
        async with open_client(ctx) as client:
            info = await client.users.get(user)
        if output is Format.json:
            print_json(user_json(info))
            return
        print_table([Col("FIELD"), Col("VALUE", fold=True)],
                    [[k, ", ".join(v) if isinstance(v, list) else v]
                     for k, v in user_json(info).items()])

    run(body)


def users_rm(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User name or id.")],
    yes: YesOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Delete a user and their personal space, for good."""

    async def delete(client: Client, info: UserInfo) -> tuple[Any, str]:
        await client.users.delete(info.id)
        return {"deleted": user_json(info)}, f"deleted user {info.username}"

    run_confirmed(ctx, yes, output, find=lambda client: client.users.get(user),
                  question=lambda info: f"Delete user {info.username!r} and their personal space?",
                  act=delete)


def users_passwd(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User name or id.")],
    password_from_env: FromEnvOption = False,
    password_file: FileOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Set a user's password (admins)."""

    async def body() -> None:
        password = new_password(password_from_env, password_file)
        async with open_client(ctx) as client:
            await client.users.set_password(user, password)
            info = await client.users.get(user) if output is Format.json else None
        if info is not None:
            print_json({"passwordChanged": user_json(info)})
        else:
            err(f"password of {user} changed")

    run(body)


def users_set_role(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User name or id.")],
    role: Annotated[str, typer.Argument(help="admin, spaceadmin, user or guest.")],
    output: OutputOption = Format.table,
) -> None:
    """Give a user a role: admin, spaceadmin, user or guest (replaces their old role)."""
    if role not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}", param_hint="ROLE")

    async def body() -> None:
        async with open_client(ctx) as client:
            info = await client.users.set_role(user, role)
        print_result(output, user_json(info), f"{info.username} is now {info.role}")

    run(body)


def register(app: typer.Typer) -> None:
    """The verbs join `ocis users` (which the runtime module created for `ocis users server`)."""
    group = service_group(app, "users", "Manage user accounts (admins); `ocis users server` "
                          "runs the users service alone.", PANEL)
    group.command("add", epilog=(
        "Examples:\n\n  OCIS_PASSWORD=s3cret ocis users add lise --display-name 'Lise Meitner' "
        "--email lise@example.org --group physics --password-from-env -o json\n"
        "  ocis users add visitor --guest --password-file ./pw.txt"))(users_add)
    group.command("ls", epilog=(
        "Examples:\n\n  ocis users ls\n  ocis users ls --search mar -o json"))(users_ls)
    group.command("show", epilog="Examples:\n\n  ocis users show einstein -o json")(users_show)
    group.command("rm", epilog="Examples:\n\n  ocis users rm lise -y")(users_rm)
    group.command("passwd", epilog=(
        "Examples:\n\n  ocis users passwd einstein\n"
        "  OCIS_PASSWORD=new ocis users passwd einstein --password-from-env"))(users_passwd)
    group.command("set-role", epilog=(
        "Examples:\n\n  ocis users set-role katherine spaceadmin"))(users_set_role)
