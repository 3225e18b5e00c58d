"""Graph `/v1.0/groups`, `/groups/{id}`, `/groups/{id}/members` and the member references
`POST /groups/{id}/members/$ref`, `DELETE /groups/{id}/members/{user}/$ref` (oCIS
`services/graph/pkg/service/v0/groups.go`). Admins write; everyone may look groups up by a search
term (to share with them); members are listed to admins and to the group's own members.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.domain.errors import (
    BadRequest,
    NotFound,
    NotSupported,
    PermissionDenied,
)
from ocis_server.identity import Group

from . import directory
from .config import CONTEXT_KEY
from .drives import read_body
from .me import group_json, principal, user_json, user_summary
from .users import find_user, require_admin

# `@odata.id` of a member: `<anything>/users/<id>` (oCIS takes the last path segment).
_MEMBER_REF = re.compile(r"/users/([^/?#]+)/?$")
_MAX_BIND = 100


async def _group(request: web.Request) -> Group:
    """By id or, as oCIS also accepts, by name."""
    users = request.app[CONTEXT_KEY].users
    ref = request.match_info["group_id"]
    try:
        return await users.get_group(ref)
    except NotFound:
        return await users.get_group_by_name(ref)


def _member_id(ref: Any) -> str:
    if not isinstance(ref, str):
        raise BadRequest("@odata.id must be the URL of a user")
    match = _MEMBER_REF.search(ref)
    if match is None:
        raise BadRequest("@odata.id must be the URL of a user")
    return match.group(1)


async def _may_see_members(request: web.Request, group: Group) -> bool:
    caller = principal(request)
    if authz.has(caller, authz.GROUPS):
        return True
    return any(g.id == group.id for g in await request.app[CONTEXT_KEY].users.groups_of(caller.id))


async def _render(request: web.Request, group: Group, expand: frozenset[str]) -> dict[str, Any]:
    body = group_json(group)
    if "members" in expand and await _may_see_members(request, group):
        full = authz.has(principal(request), authz.ACCOUNTS)
        members = await request.app[CONTEXT_KEY].users.members(group.id)
        body["members"] = [user_json(u) if full else user_summary(u) for u in members]
    return body


# --- handlers --------------------------------------------------------------------------------

async def list_groups(request: web.Request) -> web.Response:
    caller = principal(request)
    query = directory.parse_query(request, filters=(), orderby=("displayName",),
                                  expand=("members",))
    directory.require_search(query, admin=authz.has(caller, authz.ACCOUNTS))
    groups = [g for g in await request.app[CONTEXT_KEY].users.list_groups()
              if directory.matches(query.search, g.name, g.description)]
    groups = directory.ordered(groups, lambda g: g.name, descending=query.descending)
    return web.json_response({"value": [await _render(request, g, query.expand) for g in groups]})


async def get_group(request: web.Request) -> web.Response:
    principal(request)
    query = directory.parse_query(request, filters=(), orderby=(), expand=("members",))
    return web.json_response(await _render(request, await _group(request), query.expand))


async def create_group(request: web.Request) -> web.Response:
    require_admin(principal(request))
    body = await read_body(request)
    name, description = body.get("displayName"), body.get("description", "")
    if not isinstance(name, str) or not name:
        raise BadRequest("displayName is required")
    if not isinstance(description, str):
        raise BadRequest("description must be a string")
    users = request.app[CONTEXT_KEY].users
    group = await users.create_group(name=name, description=description)
    for user_id in await _bound_members(request, body):
        await users.add_member(group.id, user_id)
    return web.json_response(group_json(group), status=201)


async def _bound_members(request: web.Request, body: dict[str, Any]) -> list[str]:
    """`members@odata.bind`: user URLs to add, as Graph clients send on create and update."""
    refs = body.get("members@odata.bind", [])
    if not isinstance(refs, list) or len(refs) > _MAX_BIND:
        raise BadRequest(f"members@odata.bind must be a list of at most {_MAX_BIND} user URLs")
    return [(await find_user(request, _member_id(ref))).id for ref in refs]


async def update_group(request: web.Request) -> web.Response:
    require_admin(principal(request))
    group = await _group(request)
    body = await read_body(request)
    unknown = set(body) - {"displayName", "description", "members@odata.bind", "id"}
    if unknown:
        raise BadRequest(f"cannot change {', '.join(sorted(unknown))[:200]}")
    if body.get("displayName", group.name) != group.name or body.get("id", group.id) != group.id:
        raise NotSupported("renaming a group is not supported")
    if body.get("description", group.description) != group.description:
        raise NotSupported("changing a group's description is not supported")
    users = request.app[CONTEXT_KEY].users
    for user_id in await _bound_members(request, body):
        await users.add_member(group.id, user_id)
    return web.Response(status=204)


async def delete_group(request: web.Request) -> web.Response:
    require_admin(principal(request))
    group = await _group(request)
    await request.app[CONTEXT_KEY].users.delete_group(group.id)
    return web.Response(status=204)


async def list_members(request: web.Request) -> web.Response:
    """A bare JSON array of users, not an OData `{"value": [...]}` collection: oCIS's
    GetGroupMembers renders the backend's user list as it is, and clients read it so."""
    group = await _group(request)
    if not await _may_see_members(request, group):
        raise PermissionDenied("only admins and members may list a group's members")
    full = authz.has(principal(request), authz.ACCOUNTS)
    members = await request.app[CONTEXT_KEY].users.members(group.id)
    return web.json_response([user_json(u) if full else user_summary(u) for u in members])


async def add_member(request: web.Request) -> web.Response:
    require_admin(principal(request))
    group = await _group(request)
    body = await read_body(request)
    user = await find_user(request, _member_id(body.get("@odata.id")))
    await request.app[CONTEXT_KEY].users.add_member(group.id, user.id)
    return web.Response(status=204)


async def remove_member(request: web.Request) -> web.Response:
    require_admin(principal(request))
    group = await _group(request)
    user = await find_user(request, request.match_info["member_id"])
    await request.app[CONTEXT_KEY].users.remove_member(group.id, user.id)
    return web.Response(status=204)
