"""`/v1.0/me`: the calling user as a LibreGraph `user` (libre-graph-api `user` schema)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.domain.errors import Unauthenticated
from ocis_server.identity import User


def principal(request: web.Request) -> User:
    """The authenticated user; every Graph route needs one (the proxy normally answers 401 first)."""
    user = request.get("principal")
    if not isinstance(user, User):
        raise Unauthenticated("authentication required")
    return user


def expands(request: web.Request) -> set[str]:
    """`$expand=memberOf,drive` -> {"memberof", "drive"} (case-insensitive, as OData names are)."""
    raw = request.query.get("$expand", "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "displayName": user.display_name,
        "mail": user.email,
        "onPremisesSamAccountName": user.username,
        "userType": "Member",
        "accountEnabled": True,
    }


async def get_me(request: web.Request) -> web.Response:
    user = principal(request)
    body = user_json(user)
    if "memberof" in expands(request):
        body["memberOf"] = []       # groups are not modelled yet: no user is a member of any
    return web.json_response(body)
