"""`ocis link create|ls|rm`: public links (OCS share type 3) that open at `<server>/s/<token>` in a
plain browser, without an account. Passwords never come from argv."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.client.protocol import LINK_TYPES, link_bits
from ocis_cli.completion import complete_remote_path
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, day, is_tty, print_json, print_table
from ocis_cli.remotepath import PATH_HELP
from ocis_cli.runner import open_client, run

from .common import OutputOption, YesOption, run_confirmed
from .shares import PANEL, item_of, parse_expire

if TYPE_CHECKING:
    from ocis_cli.client import Client, ShareInfo

link_app = typer.Typer(help="Create, list and remove public links.", no_args_is_help=True)
PASSWORD_ENV = ("OCIS_LINK_PASSWORD", "OCIS_PASSWORD")


def link_password(from_env: bool, password_file: Path | None, ask: bool) -> str | None:
    """The link password from $OCIS_LINK_PASSWORD (or $OCIS_PASSWORD), a file, or a prompt
    (`--password` on a terminal); None when none was asked for."""
    if from_env and password_file is not None:
        raise CliError("use either --password-from-env or --password-file", ExitCode.USAGE)
    if from_env:
        value = next((os.environ[k] for k in PASSWORD_ENV if os.environ.get(k)), "")
        if not value:
            raise CliError("--password-from-env given but OCIS_LINK_PASSWORD is not set",
                           ExitCode.USAGE)
        return value
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CliError(f"cannot read {password_file}: {exc.strerror}", ExitCode.USAGE) from None
        if not lines or not lines[0]:
            raise CliError(f"{password_file} holds no password on its first line", ExitCode.USAGE)
        return lines[0]
    if not ask:
        return None
    if not is_tty(sys.stdin):
        raise CliError("--password-from-env or --password-file required when not interactive",
                       ExitCode.USAGE)
    first = str(typer.prompt("Link password", hide_input=True))
    if not first or str(typer.prompt("Repeat the password", hide_input=True)) != first:
        raise CliError("the passwords are empty or do not match", ExitCode.USAGE)
    return first


def link_create(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(
        help="File or folder to share by link. " + PATH_HELP, autocompletion=complete_remote_path)],
    link_type: Annotated[str, typer.Option(
        "--type", "-t", help="view, upload (view + add), edit, file-drop (add only, folders) or "
        "internal (only for people who already have access).")] = "view",
    password_from_env: Annotated[bool, typer.Option(
        "--password-from-env", help="Protect the link with $OCIS_LINK_PASSWORD (or "
        "$OCIS_PASSWORD).")] = False,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="Protect the link with the first line of this file.")] = None,
    ask_password: Annotated[bool, typer.Option(
        "--password", help="Ask for a link password (terminal only).")] = False,
    expire: Annotated[str | None, typer.Option(
        "--expire", help="Expiry: 7d, 12h, 2w, 2030-01-31 or an ISO 8601 time.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name for the link.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Create a public link; prints its URL (<server>/s/<token>)."""

    async def body() -> None:
        kind = link_type.strip().lower()
        if kind not in LINK_TYPES:
            raise CliError(f"unknown link type {link_type!r}: one of {', '.join(LINK_TYPES)}",
                           ExitCode.USAGE)
        password = link_password(password_from_env, password_file, ask_password)
        expire_date = parse_expire(expire) if expire else None
        async with open_client(ctx) as client:
            item = await item_of(client, path)
            try:
                bits = link_bits(kind, is_folder=item.is_folder)
            except ValueError as exc:
                raise CliError(str(exc), ExitCode.USAGE) from None
            link = await client.shares.create_link(item.id, permissions=bits, password=password,
                                                   expire=expire_date, name=name)
        if output is Format.json:
            print_json(link.to_json())
        else:
            print(link.url or link.token)

    run(body)


def link_ls(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="Only the links of this file or folder.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """List the public links you created.

    JSON: an array of {id, type: "link", path, item_type, item_id, link_type, url, token, name,
    expiration, ...}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            item_id = (await item_of(client, path)).id if path else None
            links = await client.shares.list_links(item_id=item_id)
        if output is Format.json:
            print_json([link.to_json() for link in links])
            return
        print_table([Col("PATH", fold=True), Col("TYPE"), Col("URL", fold=True), Col("PASSWORD"),
                     Col("EXPIRES"), Col("NAME", wide=True), Col("ID", wide=True)],
                    [[link.path, link.link_type, link.url, "yes" if link.has_password else "no",
                      day(link.expiration), link.name, link.id] for link in links], output=output)

    run(body)


def link_rm(
    ctx: typer.Context,
    link_id: Annotated[str, typer.Argument(help="Link id (see `ocis link ls`).")],
    yes: YesOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Remove a public link: its URL stops working at once."""

    async def find(client: Client) -> ShareInfo:
        link = await client.shares.get(link_id)
        if link.share_type != 3:
            raise CliError(f"{link_id} is not a link (use `ocis share rm`)", ExitCode.USAGE)
        return link

    async def delete(client: Client, link: ShareInfo) -> tuple[Any, str]:
        await client.shares.delete(link.id)
        return {"deleted": link.to_json()}, f"removed the link to {link.path}"

    run_confirmed(ctx, yes, output, find=find, act=delete, declined="nothing removed",
                  question=lambda link: f"Remove the {link.link_type} link to {link.path}?")


def register(app: typer.Typer) -> None:
    link_app.command("create", epilog=(
        "Examples:\n\n  ocis link create /docs/report.pdf\n"
        "  OCIS_LINK_PASSWORD=s3cret ocis link create Physics:/data --type edit --expire 7d "
        "--password-from-env\n  ocis link create /inbox --type file-drop -o json"))(link_create)
    link_app.command("ls", epilog="Examples:\n\n  ocis link ls\n  ocis link ls /docs -o json")(
        link_ls)
    link_app.command("rm", epilog="Examples:\n\n  ocis link rm <id> -y")(link_rm)
    app.add_typer(link_app, name="link", rich_help_panel=PANEL)
