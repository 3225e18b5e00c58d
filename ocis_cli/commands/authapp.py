"""`ocis auth-app create|ls|rm`: app tokens, the passwords for WebDAV clients that cannot do OpenID
Connect (the server needs PROXY_ENABLE_APP_AUTH=true to accept them). Admins may act for others."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, print_json, print_table
from ocis_cli.runner import open_client, run

from .account import PANEL
from .common import OutputOption, service_group

UserOption = Annotated[str | None, typer.Option(
    "--user-name", help="Whose tokens (default: yours; another user's needs an admin, and "
                        "creating one needs AUTH_APP_ENABLE_IMPERSONATION=true on the server).")]
_DURATION = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h|d))+$")


def authapp_create(
    ctx: typer.Context,
    user_name: UserOption = None,
    expiration: Annotated[str, typer.Option(
        "--expiration", help="How long the token lives: 72h, 30m, 1h30m, 7d.")] = "72h",
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Create an app token and print it (it is shown only this once).

    JSON: {token, label, created_date, expiration_date}.
    """

    async def body() -> None:
        if not _DURATION.match(expiration):
            raise CliError(f"--expiration {expiration!r}: use a duration such as 72h or 30m",
                           ExitCode.USAGE)
        async with open_client(ctx) as client:
            info = await client.app_tokens.create(expiration, user_name=user_name,
                                                  label=label or "Generated via CLI")
        if output is Format.json:
            print_json(info.to_json())
            return
        print(f"App token created for {user_name or 'you'}")
        print(f" token: {info.token}")
        print(f" expires: {info.expires}")

    run(body)


def authapp_ls(ctx: typer.Context, user_name: UserOption = None,
               output: OutputOption = Format.table) -> None:
    """List app tokens (their hashes: the tokens themselves are never stored).

    JSON: an array of {token (the hash), label, created_date, expiration_date}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            tokens = await client.app_tokens.list(user_name=user_name)
        if output is Format.json:
            print_json([t.to_json() for t in tokens])
            return
        from ocis_cli.client.units import iso_text

        print_table([Col("LABEL", fold=True), Col("CREATED"), Col("EXPIRES"), Col("HASH", wide=True)],
                    [[t.label, iso_text(t.created) or "-", iso_text(t.expires) or "-", t.token]
                     for t in tokens], output=output)

    run(body)


def authapp_rm(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="The token, or its hash as `ocis auth-app ls` shows.")],
    user_name: UserOption = None,
) -> None:
    """Revoke an app token: clients using it get 401 from now on."""

    async def body() -> None:
        async with open_client(ctx) as client:
            await client.app_tokens.delete(token, user_name=user_name)
        print("app token revoked")

    run(body)


def register(app: typer.Typer) -> None:
    """The verbs join `ocis auth-app` (which the runtime module created for `ocis auth-app server`),
    as in oCIS."""
    group = service_group(app, "auth-app", "Create, list and revoke app tokens; "
                          "`ocis auth-app server` runs the auth-app service alone.", PANEL)
    group.command("create", epilog=(
        "Examples:\n\n  ocis auth-app create --expiration 72h\n"
        "  ocis auth-app create --user-name einstein --expiration 30d -o json"))(authapp_create)
    group.command("ls", epilog=(
        "Examples:\n\n  ocis auth-app ls\n  ocis auth-app ls --user-name einstein -o json"))(authapp_ls)
    group.command("rm", epilog=(
        "Examples:\n\n  ocis auth-app rm sha256:9f86d0...\n  ocis auth-app rm Xq6Pq3aB9Lk2Zt0W"))(authapp_rm)
