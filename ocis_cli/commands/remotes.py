"""`ocis remote add|ls|rm`: WebDAV URLs of spaces on other servers, registered in your registry
on this server (the OpenID path of federation, docs/federation.md). A registered space shows in
`ocis spaces ls` (type remote) and `NAME:/path` reaches it: the CLI talks to the other server
directly with your OpenID Connect token from `ocis login` (that server trusts this server's
sign-in); this server never contacts it and never passes your token on."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, err, print_json, print_table
from ocis_cli.runner import open_client, run

from .common import OutputOption

if TYPE_CHECKING:
    from ocis_cli.client import Client, RemoteEntry

remote_app = typer.Typer(
    help="Register WebDAV spaces of other servers (shared with your federated address) among "
         "your spaces.", no_args_is_help=True)


async def _statuses(client: Client, entries: list[RemoteEntry]) -> list[str]:
    """Each entry's state as the other server answers your token now (side by side, bounded)."""
    if client.http.bearer is None:
        return ["unknown (password sign-in)"] * len(entries)
    found = await asyncio.gather(*(client.remotes.check(e) for e in entries))
    return ["reachable" if not why else f"unreachable: {why}" for why in found]


def remote_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(
        help="The space's WebDAV URL on the other server: https://HOST/dav/spaces/ID/")],
    name: Annotated[str | None, typer.Option(
        "--name", help="Name it is listed under (default: the other server's domain).")] = None,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Open the URL with your token first and refuse it if that "
        "fails (needs an `ocis login` OpenID Connect sign-in).")] = True,
    output: OutputOption = Format.table,
) -> None:
    """Register a WebDAV space URL of another server (one this server's providers file lists).

    JSON: {id, driveId, name, url, provider, createdDateTime}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            entry = await client.remotes.add(url, name)
            if check and client.http.bearer is not None:
                why = await client.remotes.check(entry)
                if why:
                    await client.remotes.remove(entry.id)
                    raise CliError(f"{entry.url}: cannot open it with your token ({why}); "
                                   "not registered", ExitCode.FAILURE)
            elif check:
                err("note: signed in with a password, the URL was not opened; using it needs "
                    "`ocis login` with OpenID Connect")
        if output is Format.json:
            print_json(_entry_json(entry))
            return
        print(f"registered {entry.name} ({entry.provider}): use it as {entry.name}:/")

    run(body)


def _entry_json(entry: RemoteEntry) -> dict[str, str]:
    return {"id": entry.id, "driveId": entry.drive_id, "name": entry.name, "url": entry.url,
            "provider": entry.provider, "createdDateTime": entry.created}


def remote_ls(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """List the remote spaces you registered, and whether each answers your token now.

    JSON: an array of {id, driveId, name, url, provider, createdDateTime, status}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            entries = await client.remotes.list()
            states = await _statuses(client, entries)
        if output is Format.json:
            print_json([{**_entry_json(e), "status": s} for e, s in zip(entries, states,
                                                                          strict=True)])
            return
        print_table([Col("NAME", fold=True), Col("PROVIDER"), Col("URL", fold=True),
                     Col("STATUS", fold=True), Col("ID", wide=True)],
                    [[e.name, e.provider, e.url, s, e.id]
                     for e, s in zip(entries, states, strict=True)], output=output)

    run(body)


def remote_rm(
    ctx: typer.Context,
    which: Annotated[str, typer.Argument(help="The name or id `ocis remote ls` shows.")],
) -> None:
    """Remove a registered remote space from your registry (the other server's data is not
    touched)."""

    async def body() -> None:
        async with open_client(ctx) as client:
            entries = await client.remotes.list()
            found = [e for e in entries if which in (e.id, e.drive_id)] or [
                e for e in entries if e.name.lower() == which.lower()]
            if not found:
                raise CliError(f"{which!r}: no such remote space (see `ocis remote ls`)",
                               ExitCode.NOT_FOUND)
            await client.remotes.remove(found[0].id)
        print(f"removed {found[0].name}")

    run(body)


def register(app: typer.Typer) -> None:
    remote_app.command("add", epilog=(
        "Examples:\n\n  ocis remote add 'https://cloud.zurich.test/dav/spaces/ID/' --name Physics"
        "\n  ocis remote add URL --no-check -o json"))(remote_add)
    remote_app.command("ls", epilog="Examples:\n\n  ocis remote ls\n  ocis remote ls -o json")(
        remote_ls)
    remote_app.command("rm", epilog="Examples:\n\n  ocis remote rm Physics")(remote_rm)
    app.add_typer(remote_app, name="remote", rich_help_panel="Spaces and files")
