"""`/v1.0/me` and `/v1.0/me/changePassword`: the calling user as a LibreGraph `user`
(libre-graph-api `user` schema), and the renderers of users and groups the directory routes share.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ocis_server.domain import settings as catalogue
from ocis_server.domain.errors import BadRequest, Unauthenticated
from ocis_server.identity import Group, User

from .config import CONFIG_KEY, CONTEXT_KEY

MAX_PASSWORD = 1024


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
        "userType": user.user_type,
        "accountEnabled": user.enabled,
    }


def user_summary(user: User) -> dict[str, Any]:
    """What a non-admin sees of another user (enough to pick a share recipient)."""
    return {"id": user.id, "displayName": user.display_name, "mail": user.email,
            "userType": user.user_type}


def group_json(group: Group) -> dict[str, Any]:
    return {"id": group.id, "displayName": group.name, "description": group.description,
            "groupTypes": []}


def new_password(value: Any, what: str = "password") -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what} must be a non-empty string")
    if len(value) > MAX_PASSWORD or "\x00" in value:
        raise BadRequest(f"{what} is not acceptable")
    return value


async def preferred_language(request: web.Request, user: User) -> str:
    """The `language` value the user saved in the settings service (one store: the settings
    API and Graph read and write the same value), else OCIS_DEFAULT_LANGUAGE, else ""."""
    stored = (await request.app[CONTEXT_KEY].storage.setting_values(user.id)).get(
        catalogue.SETTING_LANGUAGE)
    if stored:
        try:
            return str(catalogue.plain(json.loads(stored)))
        except (ValueError, KeyError, IndexError, TypeError):
            pass
    return request.app[CONFIG_KEY].default_language


async def me_json(request: web.Request, user: User) -> dict[str, Any]:
    body = user_json(user)
    language = await preferred_language(request, user)
    if language:
        body["preferredLanguage"] = language
    return body


async def get_me(request: web.Request) -> web.Response:
    user = principal(request)
    body = await me_json(request, user)
    if "memberof" in expands(request):
        groups = await request.app[CONTEXT_KEY].users.groups_of(user.id)
        body["memberOf"] = [group_json(group) for group in groups]
    return web.json_response(body)
