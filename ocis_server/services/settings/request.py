"""What every settings call starts with: the caller, the protojson body (camelCase or the proto's
snake_case field names, as protojson accepts both) and `accountUuid` with oCIS's `me`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from ocis_server.domain import settings as catalogue
from ocis_server.domain.errors import BadRequest, PreconditionFailed, Unauthenticated
from ocis_server.identity import User

MAX_BODY = 64 * 1024
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def principal(request: web.Request) -> User:
    user = request.get("principal")
    if not isinstance(user, User):
        raise Unauthenticated("authentication required")
    return user


def role(user: User) -> catalogue.RoleBundle:
    return catalogue.role_of(user.role)


async def body(request: web.Request) -> dict[str, Any]:
    """The JSON object posted; an empty body is `{}` (protojson's empty message). Anything that
    is not a JSON object is 412, as oCIS answers a body protojson cannot read."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise PreconditionFailed("request body too large")
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise PreconditionFailed("request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise PreconditionFailed("request body must be a JSON object")
    return parsed


def field(data: dict[str, Any], name: str, kind: type = str) -> Any:
    """`data[name]` or its snake_case twin; None when absent; 400 when of the wrong type."""
    value = data.get(name, data.get(_SNAKE.sub("_", name).lower()))
    if value is not None and not isinstance(value, kind):
        raise BadRequest(f"{name} must be a {kind.__name__}")
    return value


def account(caller: User, value: Any) -> str:
    """`accountUuid`: `me` (or nothing) is the caller."""
    if value in (None, "", "me"):
        return caller.id
    if not isinstance(value, str):
        raise BadRequest("accountUuid must be a string")
    return value


def created(payload: dict[str, Any]) -> web.Response:
    """oCIS's settings API answers every successful call with 201 and the response message."""
    return web.json_response(payload, status=201)
