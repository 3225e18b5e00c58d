"""Graph `/v1.0/users`, `/v1.0/users/{id}` and `/v1.0/me/changePassword` (oCIS
`services/graph/pkg/service/v0/users.go`, password.go): admins create, edit and delete users;
everyone may look people up by a search term; a user changes their own password.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.auth.personal import ensure_personal_space
from ocis_server.auth.throttle import address_key, client_address
from ocis_server.domain import settings as catalogue
from ocis_server.domain.errors import (
    AlreadyExists,
    BadGateway,
    BadRequest,
    NotFound,
    NotSupported,
    PermissionDenied,
)
from ocis_server.identity import User

from . import directory, roles, sharing_federated
from .config import CONTEXT_KEY
from .drives import disk_free, drive_json, reachable, read_body
from .me import group_json, me_json, new_password, principal, user_json, user_summary

log = logging.getLogger(__name__)
THROTTLE_SOURCE = "graph"   # wrong current passwords in the shared login throttle (auth/logins.py)
_ORDER_KEYS = {
    "displayName": lambda u: u.display_name,
    "mail": lambda u: u.email,
    "onPremisesSamAccountName": lambda u: u.username,
}
# `$expand` on `/users` and `/users/{id}`, as oCIS's GetUser takes them (ownCloud Web asks for
# `drive,memberOf,appRoleAssignments` in one call).
_EXPANDS = ("drive", "drives", "memberOf", "appRoleAssignments")
_EDITABLE = {"displayName", "mail", "userType", "passwordProfile", "accountEnabled", "id",
             "onPremisesSamAccountName"}


def require_admin(user: User) -> None:
    authz.require(user, authz.ACCOUNTS, "only admins may change users and groups")


async def find_user(request: web.Request, ref: str) -> User:
    """A user by id, or by login name as oCIS also accepts."""
    users = request.app[CONTEXT_KEY].users
    try:
        return await users.get(ref)
    except NotFound:
        return await users.get_by_name(ref)


async def render(request: web.Request, user: User, *, full: bool,
                 expand: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    body = user_json(user) if full else user_summary(user)
    if "memberof" in expand:
        groups = await request.app[CONTEXT_KEY].users.groups_of(user.id)
        body["memberOf"] = [group_json(g) for g in groups]
    if "approleassignments" in expand:
        body["appRoleAssignments"] = [roles.assignment_json(request, user)]
    if "drive" in expand or "drives" in expand:
        body.update(await _drives(request, user, expand))
    return body


async def _drives(request: web.Request, user: User,
                  expand: frozenset[str] | set[str]) -> dict[str, Any]:
    """`drive`: the user's personal drive; `drives`: every drive the user is a member of (the
    personal one included), as oCIS's GetUser renders them (v1.0 drives)."""
    spaces = sorted(await reachable(request, user),
                    key=lambda s: (s.type != "personal", s.name.lower(), s.id))
    free = await disk_free(request)
    rendered = [(s, await drive_json(request, s, free=free)) for s in spaces]
    body: dict[str, Any] = {}
    if "drive" in expand:
        personal = [d for s, d in rendered if s.type == "personal" and s.owner_id == user.id]
        if personal:
            body["drive"] = personal[0]
    if "drives" in expand:
        body["drives"] = [d for _, d in rendered]
    return body


async def _filtered(request: web.Request, users: list[User],
                    filters: tuple[tuple[str, str], ...]) -> list[User]:
    for name, value in filters:
        if name == "userType":
            users = [u for u in users if u.user_type.lower() == value.lower()]
        elif name == "appRoleId":
            users = [u for u in users if roles.role_id(u.role) == value]
        else:   # memberOf
            try:
                members = await request.app[CONTEXT_KEY].users.members(value)
            except NotFound:
                members = []
            ids = {m.id for m in members}
            users = [u for u in users if u.id in ids]
    return users


# --- handlers --------------------------------------------------------------------------------

async def list_users(request: web.Request) -> web.Response:
    caller = principal(request)
    query = directory.parse_query(request, filters=("userType", "memberOf", "appRoleId"),
                                  orderby=tuple(_ORDER_KEYS), expand=_EXPANDS)
    full = authz.has(caller, authz.ACCOUNTS)
    directory.require_search(query, admin=full)
    users = [u for u in await request.app[CONTEXT_KEY].users.list()
             if directory.matches(query.search, u.username, u.display_name, u.email)]
    users = await _filtered(request, users, query.filters)
    key = _ORDER_KEYS[query.orderby or "displayName"]
    users = directory.ordered(users, key, descending=query.descending)
    expand = query.expand if full else frozenset()
    value = [await render(request, u, full=full, expand=expand) for u in users]
    value += await sharing_federated.search(request, caller, query)    # GRAPH_INCLUDE_OCM_SHAREES
    return web.json_response({"value": value})


async def get_user(request: web.Request) -> web.Response:
    caller = principal(request)
    query = directory.parse_query(request, filters=(), orderby=(), expand=_EXPANDS)
    user = await find_user(request, request.match_info["user_id"])
    full = authz.may_see_user(caller, user)
    return web.json_response(await render(request, user, full=full,
                                          expand=query.expand if full else frozenset()))


def _password(body: dict[str, Any]) -> str | None:
    profile = body.get("passwordProfile")
    if profile is None:
        return None
    if not isinstance(profile, dict):
        raise BadRequest("passwordProfile must be an object")
    return new_password(profile.get("password"), "passwordProfile.password")


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


def _enabled(body: dict[str, Any]) -> bool | None:
    """`accountEnabled`: false disables the account (no sign-in by any path, its app tokens and
    sessions refused, its shares kept), true enables it again."""
    value = body.get("accountEnabled")
    if value is not None and not isinstance(value, bool):
        raise BadRequest("accountEnabled must be true or false")
    return value


async def create_user(request: web.Request) -> web.Response:
    caller = principal(request)
    require_admin(caller)
    body = await read_body(request)
    username = _text(body, "onPremisesSamAccountName")
    if not username:
        raise BadRequest("onPremisesSamAccountName is required")
    password = _password(body)
    if password is None:
        raise BadRequest("passwordProfile.password is required")
    enabled = _enabled(body)
    user_type = _text(body, "userType") or "Member"
    ctx = request.app[CONTEXT_KEY]
    try:
        user = await ctx.users.create(
            username=username, password=password, display_name=_text(body, "displayName") or "",
            email=_text(body, "mail") or "", user_type=user_type,
            role="guest" if user_type == "Guest" else "user")
    except AlreadyExists:
        raise AlreadyExists(f"a user named {username!r} already exists") from None
    if enabled is False:
        user = await ctx.users.update(user.id, enabled=False)
    await _ensure_personal_space(request, user)
    log.info("%s created user %s", caller.username, user.username)
    return web.json_response(user_json(user), status=201)


async def _ensure_personal_space(request: web.Request, user: User) -> None:
    """A new user gets their personal space now (oCIS creates it at first login), as the runtime
    gives every bootstrapped user one."""
    try:
        await ensure_personal_space(request.app[CONTEXT_KEY].storage, user)
    except BadGateway:
        # Storage runs on another node: the users service creates the space on its next round.
        log.warning("personal space of %s not created now: storage unreachable", user.username)


async def update_user(request: web.Request) -> web.Response:
    caller = principal(request)
    require_admin(caller)
    user = await find_user(request, request.match_info["user_id"])
    body = await read_body(request)
    unknown = set(body) - _EDITABLE
    if unknown:
        raise BadRequest(f"cannot change {', '.join(sorted(unknown))[:200]}")
    if body.get("id", user.id) != user.id:
        raise BadRequest("the id of a user cannot change")
    if body.get("onPremisesSamAccountName", user.username) != user.username:
        raise NotSupported("renaming a user is not supported")
    enabled = _enabled(body)
    if enabled is False and caller.id == user.id:
        raise PermissionDenied("you cannot disable your own account")
    password = _password(body)
    user_type = _text(body, "userType")
    if user_type is not None and caller.id == user.id and user_type != user.user_type:
        raise PermissionDenied("you cannot change your own user type")
    users = request.app[CONTEXT_KEY].users
    updated = await users.update(user.id, display_name=_text(body, "displayName"),
                                 email=_text(body, "mail"), user_type=user_type,
                                 enabled=enabled)
    if password is not None:
        await users.set_password(user.id, password)
    if enabled is not None and enabled != user.enabled:
        log.info("%s %s user %s", caller.username, "enabled" if enabled else "disabled",
                 user.username)
    return web.json_response(user_json(updated))


async def delete_user(request: web.Request) -> web.Response:
    """Deletes the account and purges its personal space, as oCIS's DeleteUser does."""
    caller = principal(request)
    require_admin(caller)
    user = await find_user(request, request.match_info["user_id"])
    if user.id == caller.id:
        raise PermissionDenied("you cannot delete your own account")
    ctx = request.app[CONTEXT_KEY]
    await ctx.users.delete(user.id)
    try:
        space = await ctx.storage.get_space(user.id)
    except NotFound:
        space = None
    if space is not None and space.type == "personal":
        await ctx.storage.delete_space(space.id)
    log.info("%s deleted user %s", caller.username, user.username)
    return web.Response(status=204)


async def change_password(request: web.Request) -> web.Response:
    """`{currentPassword, newPassword}` -> 204; a wrong current password is a 400 (oCIS) and
    counts as a failed login in the throttle every password path shares (ctx.throttle), so this
    is no way around it: a session's holder cannot guess the password here either."""
    caller = principal(request)
    body = await read_body(request)
    current = body.get("currentPassword")
    if not isinstance(current, str) or not current:
        raise BadRequest("currentPassword is required")
    new = new_password(body.get("newPassword"), "newPassword")
    ctx = request.app[CONTEXT_KEY]
    account = f"user:{caller.username.lower()}"
    origin = address_key(client_address(request, ctx.config.trusted_proxies))
    await ctx.throttle.admit(account, origin)
    if await ctx.users.authenticate(caller.username, current) is None:
        await ctx.throttle.failed(account, origin, source=THROTTLE_SOURCE)
        raise BadRequest("the current password is wrong")
    ctx.throttle.success(account, origin, source=THROTTLE_SOURCE)
    await ctx.users.set_password(caller.id, new)
    return web.Response(status=204)


async def patch_me(request: web.Request) -> web.Response:
    """PATCH /me: a user changes their `preferredLanguage` (saved as the settings service's
    `language` value, so `values-list` shows it too). Other attributes are the admins' (users)."""
    user = principal(request)
    body = await read_body(request)
    if set(body) - {"preferredLanguage"} or "preferredLanguage" not in body:
        raise BadRequest("only preferredLanguage can be changed on /me")
    setting = catalogue.SETTINGS_BY_ID[catalogue.SETTING_LANGUAGE]
    value = catalogue.parse_value(
        setting, {"listValue": {"values": [{"stringValue": body["preferredLanguage"]}]}})
    await request.app[CONTEXT_KEY].storage.save_setting_value(
        user.id, setting.id, json.dumps(value, separators=(",", ":")))
    return web.json_response(await me_json(request, user))
