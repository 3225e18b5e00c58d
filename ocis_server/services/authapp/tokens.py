"""`/auth-app/tokens`: create (POST ?expiry=72h), list (GET, hashes only) and revoke
(DELETE ?token=...) the caller's app tokens. Admins may list and revoke another user's
(`userName`/`userID`), and create them only with AUTH_APP_ENABLE_IMPERSONATION (oCIS
impersonation). A caller authenticated by an app token cannot mint more of them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.domain.errors import (
    BadGateway,
    BadRequest,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.identity import User
from ocis_server.identity.apptokens import AppToken, AppTokenRules

from .config import CONFIG_KEY, CONTEXT_KEY, DEFAULT_EXPIRY, MAX_EXPIRY

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Go-style durations as oCIS takes them: `72h`, `1h30m`, `90s` (and `7d`); seconds."""
    text = text.strip()
    if not text or len(text) > 64:
        raise BadRequest("expiry must be a duration such as 72h or 30m")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or total <= 0:
        raise BadRequest("expiry must be a duration such as 72h or 30m")
    if total > MAX_EXPIRY:
        raise BadRequest("expiry too long: at most ten years")
    return total


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def token_json(record: AppToken, token: str | None = None) -> dict[str, Any]:
    return {"token": token if token is not None else record.hash,
            "expiration_date": _iso(record.expires), "created_date": _iso(record.created),
            "label": record.label}


def _store(request: web.Request) -> AppTokenRules:
    store = request.app[CONTEXT_KEY].app_tokens
    if store is None:
        raise BadGateway("the app token store is not open")
    return store


async def _subject(request: web.Request) -> User:
    """Whose tokens: the caller, or for an admin the user named by userName / userID."""
    caller = request.get("principal")
    if not isinstance(caller, User):
        raise Unauthenticated("authentication required")
    name, user_id = request.query.get("userName"), request.query.get("userID")
    if (not name and not user_id) or name == caller.username or user_id == caller.id:
        return caller
    authz.require(caller, authz.APP_TOKENS, "only admins manage other users' app tokens")
    users = request.app[CONTEXT_KEY].users
    return await (users.get_by_name(name) if name else users.get(user_id or ""))


async def create_token(request: web.Request) -> web.Response:
    how = request.get("caller")
    if how is not None and getattr(how, "method", "") == "app":
        raise PermissionDenied("an app token cannot create app tokens")
    user = await _subject(request)
    caller = request.get("principal")
    if isinstance(caller, User) and user.id != caller.id \
            and not request.app[CONFIG_KEY].impersonation:
        # Minting a password for someone else is impersonation: oCIS allows it only when
        # AUTH_APP_ENABLE_IMPERSONATION is on (listing and revoking stay admin work).
        raise PermissionDenied("creating app tokens for other users is disabled "
                               "(AUTH_APP_ENABLE_IMPERSONATION)")
    expiry = request.query.get("expiry")
    lifetime = parse_duration(expiry) if expiry is not None else DEFAULT_EXPIRY
    label = request.query.get("label", "").strip() or "Generated via API"
    if len(label) > 200 or not label.isprintable():
        raise BadRequest("label: at most 200 printable characters")
    token, record = await _store(request).create(user.id, lifetime=lifetime, label=label)
    return web.json_response(token_json(record, token))


async def list_tokens(request: web.Request) -> web.Response:
    user = await _subject(request)
    return web.json_response([token_json(r) for r in await _store(request).list(user.id)])


async def delete_token(request: web.Request) -> web.Response:
    user = await _subject(request)
    token = request.query.get("token", "")
    if not token or len(token) > 256:
        raise BadRequest("missing token parameter")
    await _store(request).delete(user.id, token)
    return web.Response(status=200)
