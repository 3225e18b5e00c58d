"""Signing in and choosing a server: `ocis login`, `ocis auth status`, `ocis context ls|use|rm`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Format, err, is_tty, print_json, print_table
from ocis_cli.runner import current_context, run

PANEL = "Account"
auth_app = typer.Typer(help="Show how you are signed in.", no_args_is_help=True)
context_app = typer.Typer(help="Manage contexts: saved server URL + user pairs.",
                          no_args_is_help=True)


def _read_password(from_env: bool, password_file: Path | None) -> str:
    """The password from OCIS_PASSWORD (or OC_PASS), a file, or a no-echo prompt; never argv."""
    if from_env:
        value = os.environ.get("OCIS_PASSWORD") or os.environ.get("OC_PASS")
        if not value:
            raise CliError("--password-from-env given but OCIS_PASSWORD is not set", ExitCode.USAGE)
        return value
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read {password_file}: {exc.strerror}", ExitCode.USAGE) from None
        return text.rstrip("\r\n")
    if not is_tty(sys.stdin):
        raise CliError("--password-from-env or --password-file required when not interactive",
                       ExitCode.USAGE)
    return str(typer.prompt("Password", hide_input=True))


def login(
    url: Annotated[str, typer.Argument(help="Server URL, e.g. https://cloud.example.com")],
    user: Annotated[str, typer.Option("--user", "-u", envvar="OCIS_USER", help="User name.")],
    password_from_env: Annotated[bool, typer.Option(
        "--password-from-env", help="Read the password from $OCIS_PASSWORD (or $OC_PASS).")] = False,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="Read the password from the first line of this file.")] = None,
    context_name: Annotated[str | None, typer.Option(
        "--context-name",
        help="Name of the saved context (default: the server's host[:port]).")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", "-k", help="Do not verify the server's TLS certificate.")] = False,
) -> None:
    """Check credentials against the server and save them as a context, then make it current.

    The password is never taken from the command line. It is stored in plain text in the
    client config file (mode 0600), as no keyring is used; `ocis auth status` shows where.
    """
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter("the URL must start with http:// or https://", param_hint="URL")

    async def body() -> None:
        from ocis_cli.client import Client
        from ocis_cli.contexts import Context, ContextStore, default_name

        password = _read_password(password_from_env, password_file)
        async with Client(url, user=user, password=password, insecure=insecure) as client:
            me = await client.graph.me()
        ctx = Context(name=context_name or default_name(url), url=url.rstrip("/"), user=user,
                      password=password, insecure=insecure)
        store = ContextStore()
        store.save(ctx, make_current=True)
        shown = me.get("displayName") or me.get("onPremisesSamAccountName") or user
        err(f"Logged in to {ctx.url} as {shown} (context {ctx.name!r}).")
        err(f"WARNING: the password is stored in plain text in {store.path} (mode 0600).")

    run(body)


def auth_status(ctx: typer.Context) -> None:
    """Show the current context, where its credentials are stored, and whether they still work."""

    async def body() -> None:
        from ocis_cli.client import Client
        from ocis_cli.contexts import ContextStore

        context = current_context(ctx)
        print(f"context:     {context.name}")
        print(f"server:      {context.url}")
        print(f"user:        {context.user}")
        print(f"credentials: password in PLAIN TEXT in {ContextStore().path} (no keyring)")
        async with Client(context.url, user=context.user, password=context.password,
                          insecure=context.insecure) as client:
            me = await client.graph.me()
        print(f"status:      signed in as {me.get('displayName') or context.user}")

    run(body)


def context_ls(
    output: Annotated[Format, typer.Option("--output", "-o", help="table or json")] = Format.table,
) -> None:
    """List saved contexts; the current one is marked with *."""

    async def body() -> None:
        from ocis_cli.contexts import ContextStore

        store = ContextStore()
        current = store.current_name()
        contexts = store.all()
        if output is Format.json:
            print_json([{"name": c.name, "url": c.url, "user": c.user,
                         "current": c.name == current} for c in contexts])
            return
        print_table(["CURRENT", "NAME", "URL", "USER"],
                    [["*" if c.name == current else "", c.name, c.url, c.user] for c in contexts])

    run(body)


def context_use(name: Annotated[str, typer.Argument(help="Context name.")]) -> None:
    """Make a saved context the current one."""

    async def body() -> None:
        from ocis_cli.contexts import ContextStore

        ctx = ContextStore().use(name)
        err(f"Switched to context {ctx.name!r} ({ctx.user} on {ctx.url}).")

    run(body)


def context_rm(name: Annotated[str, typer.Argument(help="Context name.")]) -> None:
    """Forget a saved context and its stored password."""

    async def body() -> None:
        from ocis_cli.contexts import ContextStore

        ContextStore().remove(name)
        err(f"Removed context {name!r}.")

    run(body)


def register(app: typer.Typer) -> None:
    app.command("login", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  OCIS_PASSWORD=secret ocis login https://cloud.example.com --user einstein "
        "--password-from-env\n"
        "  ocis login http://127.0.0.1:9200 -u admin --password-file ~/.ocis-pw "
        "--context-name local"))(login)
    auth_app.command("status", epilog="Example:\n\n  ocis auth status")(auth_status)
    context_app.command("ls", epilog="Examples:\n\n  ocis context ls\n  ocis context ls -o json")(
        context_ls)
    context_app.command("use", epilog="Example:\n\n  ocis context use cloud.example.com")(context_use)
    context_app.command("rm", epilog="Example:\n\n  ocis context rm old-server")(context_rm)
    app.add_typer(auth_app, name="auth", rich_help_panel=PANEL)
    app.add_typer(context_app, name="context", rich_help_panel=PANEL)
