"""`ocis invite create|ls|accept|contacts|forget`: OCM invitations, as the oCIS web UI makes them.
Einstein runs `ocis invite create` on zurich and passes `TOKEN@zurich.test` on; Marie runs `ocis
invite accept TOKEN@zurich.test` against paris; from then on each is the other's federated
contact, and (with OCM_REQUIRE_INVITE, the default) they may share with each other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, print_json, print_table
from ocis_cli.runner import open_client, run

from .common import OutputOption
from .shares import PANEL

invite_app = typer.Typer(
    help="Invite people on other OCM servers, accept their invitations, list and forget "
         "federated contacts.", no_args_is_help=True)


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if seconds else "-"


def invite_create(
    ctx: typer.Context,
    description: Annotated[str, typer.Option("--description", help="A note for the invitee.")] = "",
    recipient: Annotated[str, typer.Option(
        "--recipient", help="The invitee's e-mail address (recorded with the invitation).")] = "",
    output: OutputOption = Format.table,
) -> None:
    """Make an invitation and print it as TOKEN@DOMAIN, the form `ocis invite accept` takes.

    JSON: {token, description, expiration, recipient, invitation}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            invitation = await client.invites.create(description, recipient)
            where = invitation.provider_domain or urlsplit(client.http.base_url).netloc
        text = f"{invitation.token}@{where}"
        if output is Format.json:
            print_json({"token": invitation.token, "description": invitation.description,
                        "expiration": invitation.expiration, "recipient": invitation.recipient,
                        "invitation": text})
            return
        print(text)

    run(body)


def invite_ls(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """List your invitations that have not expired.

    JSON: an array of {token, description, expiration, recipient}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            found = await client.invites.tokens()
        if output is Format.json:
            print_json([{"token": i.token, "description": i.description,
                         "expiration": i.expiration, "recipient": i.recipient} for i in found])
            return
        print_table([Col("TOKEN"), Col("EXPIRES"), Col("DESCRIPTION", fold=True),
                     Col("RECIPIENT", wide=True)],
                    [[i.token, _when(i.expiration), i.description, i.recipient] for i in found],
                    output=output)

    run(body)


def invite_accept(
    ctx: typer.Context,
    invitation: Annotated[str, typer.Argument(
        help="TOKEN@DOMAIN as the inviter's `ocis invite create` printed it.")],
    output: OutputOption = Format.table,
) -> None:
    """Accept an invitation from a user of another OCM server (listed in this server's providers
    file): each becomes the other's federated contact."""
    token, sep, provider = invitation.rpartition("@")

    async def body() -> None:
        if not sep or not token or not provider:
            raise CliError(f"{invitation!r}: expected TOKEN@DOMAIN (as `ocis invite create` "
                           "prints it)", ExitCode.USAGE)
        async with open_client(ctx) as client:
            contact = await client.invites.accept(token, provider)
        if output is Format.json:
            print_json(contact.to_json() if contact else {})
            return
        who = f"{contact.display_name} ({contact.address})" if contact else provider
        print(f"invitation accepted: {who} is now a federated contact")

    run(body)


def invite_contacts(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """List your federated contacts: the people you exchanged an invitation with.

    JSON: an array of {display_name, idp, user_id, mail, address}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            found = await client.invites.contacts()
        if output is Format.json:
            print_json([c.to_json() for c in found])
            return
        print_table([Col("NAME", fold=True), Col("ADDRESS"), Col("MAIL"), Col("ID", wide=True)],
                    [[c.display_name, c.address, c.mail, c.user_id] for c in found],
                    output=output)

    run(body)


def invite_forget(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(
        help="The contact's federated address (user@domain, as `ocis invite contacts` shows).")],
) -> None:
    """Forget a federated contact (on this server; theirs keeps you until they forget you)."""

    async def body() -> None:
        async with open_client(ctx) as client:
            found = [c for c in await client.invites.contacts()
                     if address in (c.address, c.user_id)]
            if not found:
                raise CliError(f"{address} is not one of your federated contacts",
                               ExitCode.NOT_FOUND)
            await client.invites.forget(found[0])
        print(f"forgot {found[0].address}")

    run(body)


def register(app: typer.Typer) -> None:
    cmd = invite_app.command
    cmd("create", epilog=(
        "Examples:\n\n  ocis invite create\n"
        "  ocis invite create --description 'Physics data' -o json"))(invite_create)
    cmd("ls", epilog="Examples:\n\n  ocis invite ls\n  ocis invite ls -o json")(invite_ls)
    cmd("accept", epilog=(
        "Examples:\n\n  ocis invite accept Kd8x...Q@zurich.test"))(invite_accept)
    cmd("contacts", epilog=(
        "Examples:\n\n  ocis invite contacts\n  ocis invite contacts -o json"))(invite_contacts)
    cmd("forget", epilog="Examples:\n\n  ocis invite forget marie@paris.test")(invite_forget)
    app.add_typer(invite_app, name="invite", rich_help_panel=PANEL)
