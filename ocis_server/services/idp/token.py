"""The token endpoint (RFC 6749 §3.2) with its three grants: authorization_code (+ PKCE S256),
refresh_token (rotation, reuse revokes the family) and device_code (RFC 8628 §3.4); the device
authorization endpoint (RFC 8628 §3.1) and token revocation (RFC 7009)."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote

from aiohttp import web
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from ocis_server.domain.errors import NotFound, OcisError

from .clients import DEVICE_GRANT, Client
from .config import DEVICE_CODE_TTL, DEVICE_PAGE_PATH
from .errors import NO_STORE, OAuthError
from .forms import read_form
from .state import IdpState, idp_state
from .store import Grant
from .tokens import granted_scope, token_response


async def _form(request: web.Request) -> dict[str, str]:
    try:
        return await read_form(request)
    except OcisError as exc:
        raise OAuthError("invalid_request", exc.message) from None   # RFC 6749 §5.2: 400


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", status=401,
                         headers={"WWW-Authenticate": 'Basic realm="ocis"'}) from None
    if not sep:
        raise OAuthError("invalid_client", status=401)
    return unquote(user), unquote(secret)      # RFC 6749 §2.3.1: form-urlencoded first


def authenticate_client(state: IdpState, request: web.Request, form: dict[str, str]) -> Client:
    """client_secret_basic, client_secret_post, or none (public clients, PKCE)."""
    creds = _basic(request.headers.get("Authorization", ""))
    secret: str | None
    if creds is not None:
        client_id, secret = creds
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated client")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
    client = state.clients.get(client_id)
    if client is None or not client.check_secret(secret):
        headers = {"WWW-Authenticate": 'Basic realm="ocis"'} if creds else None
        raise OAuthError("invalid_client", "unknown client or wrong credentials", 401, headers)
    return client


async def handle_token(request: web.Request) -> web.StreamResponse:
    state = idp_state(request)
    form = await _form(request)
    client = authenticate_client(state, request, form)
    grant_type = form.get("grant_type", "")
    if grant_type not in client.grant_types:
        raise OAuthError("unsupported_grant_type" if grant_type not in
                         ("authorization_code", "refresh_token", DEVICE_GRANT)
                         else "unauthorized_client")
    if grant_type == "authorization_code":
        grant = await _code_grant(state, client, form)
    elif grant_type == "refresh_token":
        grant = await _refresh_grant(state, client, form)
    else:
        grant = await _device_grant(state, client, form)
    try:
        user = await state.users.get(grant.user_id)
    except NotFound:
        raise OAuthError("invalid_grant", "the account no longer exists") from None
    body = await token_response(state.cfg, state.keys, state.store, state.users, user, grant)
    return web.json_response(body, headers=NO_STORE)


async def _code_grant(state: IdpState, client: Client, form: dict[str, str]) -> Grant:
    grant = await state.store.redeem_code(form.get("code", ""))
    if grant is None or grant.client_id != client.id:
        raise OAuthError("invalid_grant", "the code is invalid, expired or already used")
    if grant.redirect_uri != form.get("redirect_uri", ""):
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier", "")
    if grant.challenge is not None:
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
                create_s256_code_challenge(verifier).encode(), grant.challenge.encode()):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    elif verifier:
        raise OAuthError("invalid_grant", "no code_challenge was sent for this code")
    return grant


async def _refresh_grant(state: IdpState, client: Client, form: dict[str, str]) -> Grant:
    grant = await state.store.use_refresh(form.get("refresh_token", ""))
    if grant is None or grant.client_id != client.id:
        raise OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
    if "scope" in form:                      # RFC 6749 §6: may narrow, never widen
        asked = set(granted_scope(form["scope"]).split())
        if not asked <= set(grant.scope.split()):
            raise OAuthError("invalid_scope", "the scope exceeds the original grant")
        grant = Grant(grant.client_id, grant.user_id, granted_scope(form["scope"]),
                      grant.auth_time, grant.family)
    return grant


async def _device_grant(state: IdpState, client: Client, form: dict[str, str]) -> Grant:
    outcome, grant = await state.store.poll_device(form.get("device_code", ""), client.id)
    if grant is None:
        descriptions = {"authorization_pending": "the user has not yet approved the request",
                        "slow_down": "polling too fast", "access_denied": "the user denied it",
                        "expired_token": "the device code expired", "invalid_grant": ""}
        raise OAuthError(outcome, descriptions.get(outcome, ""))
    return grant


async def handle_device_authorization(request: web.Request) -> web.StreamResponse:
    state = idp_state(request)
    form = await _form(request)
    client = authenticate_client(state, request, form)
    if DEVICE_GRANT not in client.grant_types:
        raise OAuthError("unauthorized_client", "this client may not use the device grant")
    scope = granted_scope(form.get("scope", "openid"))
    interval = state.cfg.device_poll_interval
    device_code, user_code = await state.store.add_device(client.id, scope, DEVICE_CODE_TTL,
                                                          interval)
    page = state.cfg.url(DEVICE_PAGE_PATH)
    return web.json_response({
        "device_code": device_code, "user_code": user_code, "verification_uri": page,
        "verification_uri_complete": f"{page}?user_code={user_code}",
        "expires_in": DEVICE_CODE_TTL, "interval": interval}, headers=NO_STORE)


async def handle_revocation(request: web.Request) -> web.StreamResponse:
    """RFC 7009: revoke a refresh token (and its family); access tokens are short-lived JWTs and
    simply expire. Unknown tokens answer 200 as well (§2.2)."""
    state = idp_state(request)
    form = await _form(request)
    client = authenticate_client(state, request, form)
    token = form.get("token", "")
    if not token:
        raise OAuthError("invalid_request", "token is required")
    await state.store.revoke_refresh(token, client.id)
    return web.Response(status=200, headers=NO_STORE)
