"""The terminal side of `ocis login` with OpenID Connect: run the device or PKCE flow, check the token
against the server, store it (keyring or 0600 file) and save the context.

Messages go to stderr, and the URL (and device code) is always printed, so a login works over SSH.
"""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocis_cli.client import oidc
from ocis_cli.output import err, is_tty

if TYPE_CHECKING:
    from ocis_cli.contexts import Context


@dataclass(frozen=True, slots=True)
class LoginOptions:
    url: str
    device: bool = False
    issuer: str | None = None
    client_id: str = oidc.CLI_CLIENT_ID
    open_browser: bool = True
    timeout: float = 300.0
    insecure: bool = False
    context_name: str | None = None
    insecure_storage: bool = False


def browser_possible() -> bool:
    """Only offer to open a browser where one can show up (a desktop session on a terminal)."""
    if not is_tty(sys.stderr):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def device_flow(client: oidc.OidcClient) -> oidc.TokenSet:
    device = await client.start_device()
    err(f"First copy your one-time code: {device.user_code}")
    err(f"Then open {device.verification_uri} in a browser and enter it.")
    if device.verification_uri_complete:
        err(f"(Or open {device.verification_uri_complete} directly.)")
    err("Waiting for the login to be approved...")
    return await client.poll_device(device)


async def pkce_flow(client: oidc.OidcClient, options: LoginOptions) -> tuple[oidc.TokenSet, str]:
    """(tokens, nonce): the browser signs in, the IdP redirects to our loopback listener."""
    request = oidc.PkceRequest()
    async with oidc.LoopbackReceiver(request.state, issuer=client.provider.issuer) as receiver:
        url = client.authorization_url(request, receiver.redirect_uri)
        err("Open this URL in a browser on this machine to sign in:")
        err(f"  {url}")
        err("(No browser here, e.g. over SSH? Use `ocis login --device`.)")
        if options.open_browser and browser_possible():
            await asyncio.to_thread(webbrowser.open, url)
        code = await receiver.wait(options.timeout)
    tokens = await client.exchange_code(code, request, receiver.redirect_uri)
    return tokens, request.nonce


async def oidc_login(options: LoginOptions) -> None:
    """Log in, check the token works on the server, then store tokens and context."""
    import aiohttp

    from ocis_cli.client import AuthError, BearerAuth, Client

    url = options.url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=not options.insecure),
                                     timeout=timeout,
                                     headers={"User-Agent": "ocis-py-cli"}) as session:
        provider = await oidc.discover(session, url, options.issuer)
        client = oidc.OidcClient(session, provider, client_id=options.client_id)
        if options.device:
            try:
                tokens, nonce = await asyncio.wait_for(device_flow(client), options.timeout), ""
            except TimeoutError:
                raise AuthError(f"the login was not approved within {options.timeout:.0f} s",
                                code="expired_token") from None
        else:
            tokens, nonce = await pkce_flow(client, options)
        claims = (await client.verify_id_token(tokens.id_token, nonce=nonce)
                  if tokens.id_token else {})
    bearer = BearerAuth(tokens, token_endpoint=provider.token_endpoint,
                        client_id=options.client_id, issuer=provider.issuer)
    async with Client(url, bearer=bearer, insecure=options.insecure) as api:
        me = await api.graph.me()
    await _remember(options, url, provider, bearer.tokens, me, claims)


async def _remember(options: LoginOptions, url: str, provider: oidc.Provider,
                    tokens: oidc.TokenSet, me: dict[str, Any], claims: dict[str, Any]) -> None:
    from ocis_cli.contexts import Context, ContextStore, login_name
    from ocis_cli.credentials import FILE, CredentialStore, Stored

    user = str(me.get("onPremisesSamAccountName") or claims.get("preferred_username")
               or claims.get("sub") or "")
    contexts = ContextStore()
    others = await asyncio.to_thread(contexts.all)
    name = login_name(contexts, url, user, options.context_name)
    store = CredentialStore()
    stored = Stored(tokens=tokens.to_dict(), issuer=provider.issuer,
                    token_endpoint=provider.token_endpoint, client_id=options.client_id,
                    revocation_endpoint=provider.revocation_endpoint)
    where = await asyncio.to_thread(store.save, name, stored, prefer_file=options.insecure_storage)
    context = Context(name=name, url=url, user=user, password="", insecure=options.insecure,
                      auth="oidc", credentials=where)
    await asyncio.to_thread(contexts.save, context, make_current=True)
    shown = me.get("displayName") or user
    err(f"Logged in to {url} as {shown} (context {name!r}).")
    report_kept(others, name, url)
    if where == FILE:
        err(f"WARNING: the tokens are stored in PLAIN TEXT in {store.path} (mode 0600)"
            + (": --insecure-storage was given." if options.insecure_storage
               else ": no system keyring is usable here."))
    else:
        err(f"Tokens stored in the {store.describe(where)}.")


def report_kept(before: list[Context], name: str, url: str) -> None:
    """Say which other contexts of the same server stay, and how to switch back to one."""
    kept = [c for c in before if c.name != name and c.url.rstrip("/") == url.rstrip("/")]
    for other in kept:
        err(f"Context {other.name!r} ({other.user}) is kept: `ocis context use {other.name}` "
            "switches back.")
