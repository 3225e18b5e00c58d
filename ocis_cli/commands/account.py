"""Signing in and choosing a server: `ocis login|logout|whoami`, `ocis auth status|token`,
`ocis context ls|use|rm`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ocis_cli.commands.common import OutputOption
from ocis_cli.completion import complete_context
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, err, print_json, print_table
from ocis_cli.runner import current_context, run

from .common import env_password, read_password_file, require_password_prompt

PANEL = "Account"
auth_app = typer.Typer(help="Show how you are signed in, or print the access token.", no_args_is_help=True)
context_app = typer.Typer(help="Manage contexts: saved server URL + user pairs.",
                          no_args_is_help=True)


def _read_password(from_env: bool, password_file: Path | None) -> str:
    """The password from OCIS_PASSWORD (or OC_PASS), a file, or a no-echo prompt; never argv."""
    if from_env:
        return env_password()
    if password_file is not None:
        return read_password_file(password_file).rstrip("\r\n")
    require_password_prompt()
    return str(typer.prompt("Password", hide_input=True))


def login(
    url: Annotated[str, typer.Argument(help="Server URL, e.g. https://cloud.example.com")],
    device: Annotated[bool, typer.Option(
        "--device", help="Device flow: print a URL and a one-time code to enter in any browser "
        "(works over SSH).")] = False,
    user: Annotated[str | None, typer.Option(
        "--user", "-u", envvar="OCIS_USER",
        help="Log in with this user name and a password (HTTP Basic) instead of OpenID Connect.")
    ] = None,
    password_from_env: Annotated[bool, typer.Option(
        "--password-from-env", help="Read the password from $OCIS_PASSWORD (or $OC_PASS).")] = False,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="Read the password from the first line of this file.")] = None,
    context_name: Annotated[str | None, typer.Option(
        "--context-name",
        help="Name of the saved context (default: the server's host[:port]).")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", "-k", help="Do not verify the server's TLS certificate.")] = False,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Only print the sign-in URL; do not try to open a browser.")] = False,
    insecure_storage: Annotated[bool, typer.Option(
        "--insecure-storage",
        help="Store tokens in a plain-text 0600 file even when a system keyring exists.")] = False,
    issuer: Annotated[str | None, typer.Option(
        "--issuer", help="OpenID provider to use (default: the one the server names via "
        "webfinger or its own discovery document).")] = None,
    client_id: Annotated[str, typer.Option(
        "--client-id", envvar="OCIS_CLI_CLIENT_ID",
        help="OAuth client id registered for this CLI at the provider.")] = "ocis-cli",
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1.0, help="Seconds to wait for the login in the browser.")] = 300.0,
) -> None:
    """Log in to a server and make it the current context.

    By default this is OpenID Connect: authorization code + PKCE, answered on a loopback port of
    this machine; `--device` prints a URL and a one-time code instead. Tokens go to the system
    keyring, or where none is usable to a 0600 file (`ocis auth status` says which), and refresh
    silently. With `--user` (and `--password-from-env`/`--password-file` in scripts) the password
    is checked with HTTP Basic and kept in plain text in the client config file (mode 0600); it is
    never taken from the command line.
    """
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter("the URL must start with http:// or https://", param_hint="URL")
    if device and (user or password_from_env or password_file):
        raise typer.BadParameter("--device logs in with OpenID Connect; drop --user and the "
                                 "password options", param_hint="--device")
    if user is None and (password_from_env or password_file):
        raise typer.BadParameter("a password login needs --user NAME", param_hint="--user")
    if user is not None:
        run(lambda: _password_login(url, user, _read_password(password_from_env, password_file),
                                    context_name, insecure))
        return

    async def body() -> None:
        from ocis_cli.login import LoginOptions, oidc_login

        await oidc_login(LoginOptions(url=url, device=device, issuer=issuer, client_id=client_id,
                                      open_browser=not no_browser, timeout=timeout,
                                      insecure=insecure, context_name=context_name,
                                      insecure_storage=insecure_storage))

    run(body)


async def _password_login(url: str, user: str, password: str, context_name: str | None,
                          insecure: bool) -> None:
    from ocis_cli.client import Client
    from ocis_cli.contexts import Context, ContextStore, login_name
    from ocis_cli.credentials import CredentialStore
    from ocis_cli.login import report_kept

    async with Client(url, user=user, password=password, insecure=insecure) as client:
        me = await client.graph.me()
    store = ContextStore()
    others = store.all()
    ctx = Context(name=login_name(store, url, user, context_name), url=url.rstrip("/"),
                  user=user, password=password, insecure=insecure)
    store.save(ctx, make_current=True)
    CredentialStore().delete(ctx.name)            # tokens of an earlier OIDC login of this name
    shown = me.get("displayName") or me.get("onPremisesSamAccountName") or user
    err(f"Logged in to {ctx.url} as {shown} (context {ctx.name!r}).")
    report_kept(others, ctx.name, ctx.url)
    err(f"WARNING: the password is stored in plain text in {store.path} (mode 0600).")



def logout(ctx: typer.Context) -> None:
    """Log out of the current context (or --context NAME): revoke, forget its credentials.

    The provider revokes the tokens where it allows it; the saved context is removed."""

    async def body() -> None:
        from ocis_cli.contexts import ContextStore
        from ocis_cli.credentials import CredentialStore

        context = current_context(ctx)
        store = CredentialStore()
        revoked = await _revoke(store, context) if context.auth == "oidc" else False
        store.delete(context.name)
        ContextStore().remove(context.name)
        note = "; the provider revoked its tokens" if revoked else ""
        err(f"Logged out of {context.url}: context {context.name!r} and its credentials "
            f"removed{note}.")

    run(body)


async def _revoke(store: Any, context: Any) -> bool:
    """Best effort RFC 7009 revocation of the refresh token; a failure never blocks a logout."""
    import aiohttp

    from ocis_cli.client.errors import ClientError
    from ocis_cli.client.oidc import OidcClient, Provider
    from ocis_cli.credentials import CredentialError

    try:
        stored = store.load(context.name, context.credentials or "file")
    except (CredentialError, ValueError, KeyError):
        return False
    if stored is None or not stored.revocation_endpoint:
        return False
    provider = Provider(issuer=stored.issuer, token_endpoint=stored.token_endpoint,
                        revocation_endpoint=stored.revocation_endpoint)
    refresh = str(stored.tokens.get("refresh_token") or "")
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=not context.insecure),
                                     timeout=timeout) as session:
        client = OidcClient(session, provider, client_id=stored.client_id)
        try:
            if refresh:
                return await client.revoke(refresh, "refresh_token")
            return await client.revoke(str(stored.tokens.get("access_token", "")), "access_token")
        except ClientError:
            return False


def whoami(
    ctx: typer.Context,
    output: OutputOption = Format.table,
) -> None:
    """Show who the server says you are, on which server and context."""

    async def body() -> None:
        from ocis_cli.runner import open_client

        context = current_context(ctx)
        async with open_client(ctx) as client:
            me = await client.graph.me()
        info = {"user": me.get("onPremisesSamAccountName") or context.user,
                "displayName": me.get("displayName") or "", "email": me.get("mail") or "",
                "id": me.get("id") or "", "server": context.url, "context": context.name,
                "auth": "oidc" if context.auth == "oidc" else "password"}
        if output is Format.json:
            print_json(info)
            return
        for key in ("user", "displayName", "email", "id", "server", "context", "auth"):
            print(f"{key + ':':<13}{info[key]}")

    run(body)


def auth_status(
    ctx: typer.Context,
    output: OutputOption = Format.table,
) -> None:
    """Show the current context, how it signs in, where its credentials are stored, and whether
    they still work (an expired access token is refreshed silently; exit 4 when rejected)."""

    async def body() -> ExitCode:
        from ocis_cli.client.errors import AuthError
        from ocis_cli.runner import open_client

        context = current_context(ctx)
        info = _credential_facts(context)
        code = ExitCode.OK
        try:
            async with open_client(ctx) as client:
                me = await client.graph.me()
                info["status"] = f"signed in as {me.get('displayName') or context.user}"
                bearer = client.http.bearer
                if bearer is not None:
                    info["expires"] = _when(bearer.tokens.expires_at)
        except AuthError as exc:               # still show where the credentials are
            info["status"] = f"REJECTED: {exc.message}; run `ocis login {context.url}`"
            code = ExitCode.AUTH
        if output is Format.json:
            print_json(info)
        else:
            for key, value in info.items():
                print(f"{key + ':':<13}{_left(value) if key == 'expires' else value}")
        return code

    run(body)


def _credential_facts(context: Any) -> dict[str, Any]:
    from ocis_cli.contexts import ContextStore
    from ocis_cli.credentials import FILE, CredentialStore

    info: dict[str, Any] = {"context": context.name, "server": context.url, "user": context.user}
    if context.auth != "oidc":
        info["method"] = "password (HTTP Basic)"
        info["credentials"] = f"password in PLAIN TEXT in {ContextStore().path} (mode 0600)"
        return info
    store = CredentialStore()
    stored = store.load(context.name, context.credentials or FILE)
    info["method"] = "OpenID Connect"
    info["credentials"] = store.describe(context.credentials or FILE)
    if stored is not None:
        info["issuer"] = stored.issuer
        info["expires"] = _when(float(stored.tokens.get("expires_at", 0)))
        info["refresh"] = "yes" if stored.tokens.get("refresh_token") else "no"
    return info


def _when(timestamp: float) -> str:
    """ISO 8601 in UTC with its zone, as every time in `-o json`."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _left(stamp: str) -> str:
    """'2026-12-07T12:00:00Z (in 300 s)' or '... (expired)' for the text output."""
    import time
    from datetime import datetime

    left = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - time.time()
    return f"{stamp} (expired)" if left <= 0 else f"{stamp} (in {int(left)} s)"


def auth_token(ctx: typer.Context) -> None:
    """Print the current context's access token (refreshed first if needed), e.g. for
    `rclone --webdav-bearer-token-command "ocis auth token"`."""

    async def body() -> None:
        from ocis_cli.runner import open_client

        context = current_context(ctx)
        if context.auth != "oidc":
            raise CliError(f"context {context.name!r} signs in with a password, not a token; "
                           f"run `ocis login {context.url}`", ExitCode.USAGE)
        async with open_client(ctx) as client:
            print(await client.http.access_token())

    run(body)


def context_ls(
    output: OutputOption = Format.table,
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
        print_table([Col("CURRENT"), Col("NAME", fold=True), Col("USER", fold=True),
                     Col("URL", fold=True)],
                    [["*" if c.name == current else "", c.name, c.user, c.url] for c in contexts],
                    output=output)

    run(body)


def context_use(name: Annotated[str, typer.Argument(
        help="Context name.", autocompletion=complete_context)]) -> None:
    """Make a saved context the current one."""

    async def body() -> None:
        from ocis_cli.contexts import ContextStore

        ctx = ContextStore().use(name)
        err(f"Switched to context {ctx.name!r} ({ctx.user} on {ctx.url}).")

    run(body)


def context_rm(name: Annotated[str, typer.Argument(
        help="Context name.", autocompletion=complete_context)]) -> None:
    """Forget a saved context and its stored password or tokens."""

    async def body() -> None:
        from ocis_cli.contexts import ContextStore
        from ocis_cli.credentials import CredentialStore

        ContextStore().remove(name)
        CredentialStore().delete(name)
        err(f"Removed context {name!r}.")

    run(body)


def register(app: typer.Typer) -> None:
    app.command("login", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis login https://cloud.example.com\n"
        "  ocis login https://cloud.example.com --device\n"
        "  OCIS_PASSWORD=secret ocis login https://cloud.example.com --user einstein "
        "--password-from-env\n"
        "  ocis login http://127.0.0.1:9200 -u admin --password-file ~/.ocis-pw "
        "--context-name local"))(login)
    app.command("logout", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis logout\n  ocis --context old-server logout"))(logout)
    app.command("whoami", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis whoami\n  ocis whoami -o json"))(whoami)
    auth_app.command("status", epilog="Examples:\n\n  ocis auth status\n  ocis auth status -o json")(
        auth_status)
    auth_app.command("token", epilog=(
        "Example:\n\n  curl -H \"Authorization: Bearer $(ocis auth token)\" "
        "https://cloud.example.com/graph/v1.0/me"))(auth_token)
    context_app.command("ls", epilog="Examples:\n\n  ocis context ls\n  ocis context ls -o json")(
        context_ls)
    context_app.command("use", epilog="Example:\n\n  ocis context use cloud.example.com")(context_use)
    context_app.command("rm", epilog="Example:\n\n  ocis context rm old-server")(context_rm)
    app.add_typer(auth_app, name="auth", rich_help_panel=PANEL)
    app.add_typer(context_app, name="context", rich_help_panel=PANEL)
