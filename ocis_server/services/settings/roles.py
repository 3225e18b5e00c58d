"""Roles and who holds them: `roles-list`, `assignments-list`, `assignments-add`,
`assignments-remove`, `permissions-list`, `permissions-list-by-resource`, `permissions-get-by-id`
(oCIS `service.go`). A user's role is the one the user store keeps (`User.role`), the same Graph's
`appRoleAssignments` read and write: one source of truth. Anyone lists the roles and their own
assignment; listing others' and assigning needs `Roles.ReadWrite` (Admin); nobody changes their own.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.domain import settings as catalogue
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User

from .config import CONTEXT_KEY
from .request import account, body, created, field, principal, role


def assignment_json(user: User) -> dict[str, Any]:
    return {"id": catalogue.assignment_id(user.id, user.role), "accountUuid": user.id,
            "roleId": catalogue.role_of(user.role).id}


def _require_role_management(caller: User) -> None:
    if not authz.has(caller, authz.ROLES):
        raise PermissionDenied("user has no role management permission")


async def _user(request: web.Request, user_id: str) -> User:
    try:
        return await request.app[CONTEXT_KEY].users.get(user_id)
    except NotFound:
        raise NotFound(f"user not found: {user_id}") from None


async def list_roles(request: web.Request) -> web.Response:
    principal(request)
    wanted = field(await body(request), "bundleIds", list)
    bundles = [catalogue.role_bundle_json(r) for r in catalogue.ROLES
               if not wanted or r.id in wanted]
    return created({"bundles": bundles} if bundles else {})


async def list_assignments(request: web.Request) -> web.Response:
    caller = principal(request)
    user_id = account(caller, field(await body(request), "accountUuid"))
    if user_id != caller.id:
        _require_role_management(caller)
        try:
            user = await request.app[CONTEXT_KEY].users.get(user_id)
        except NotFound:
            return created({})         # oCIS: no assignments for an unknown account
    else:
        user = caller
    return created({"assignments": [assignment_json(user)]})


async def add_assignment(request: web.Request) -> web.Response:
    caller = principal(request)
    data = await body(request)
    user_id = account(caller, field(data, "accountUuid"))
    role_id = field(data, "roleId")
    if user_id == caller.id:
        raise PermissionDenied("Changing own role assignment forbidden")
    _require_role_management(caller)
    bundle = catalogue.ROLES_BY_ID.get(role_id) if isinstance(role_id, str) else None
    if bundle is None:
        raise BadRequest(f"unknown role id {role_id!r}")
    user = await _user(request, user_id)
    updated = await request.app[CONTEXT_KEY].users.update(user.id, role=bundle.store_role)
    return created({"assignment": assignment_json(updated)})


async def remove_assignment(request: web.Request) -> web.Response:
    """The user falls back to the default role (User), as after Graph's DELETE."""
    caller = principal(request)
    _require_role_management(caller)
    wanted = field(await body(request), "id")
    if not wanted:
        raise BadRequest("id is required")
    if wanted == catalogue.assignment_id(caller.id, caller.role):
        raise PermissionDenied("Removing own role assignment forbidden")
    users = request.app[CONTEXT_KEY].users
    for user in await users.list():
        if catalogue.assignment_id(user.id, user.role) == wanted:
            await users.update(user.id, role=catalogue.DEFAULT_STORE_ROLE)
            return web.Response(status=204)
    raise NotFound(f"role assignment {wanted} not found")


async def list_permissions(request: web.Request) -> web.Response:
    """The caller's own permissions as `<name>.<constraint>` (anyone else's: not found)."""
    caller = principal(request)
    user_id = account(caller, field(await body(request), "accountUuid"))
    if user_id != caller.id:
        raise NotFound(f"user not found: {user_id}")
    return created({"permissions": catalogue.permission_names(role(caller))})


async def list_permissions_by_resource(request: web.Request) -> web.Response:
    caller = principal(request)
    resource = field(await body(request), "resource", dict)
    if not resource or not isinstance(resource.get("type"), str):
        raise BadRequest("resource with a type is required")
    found = catalogue.permissions_on(role(caller), resource["type"], str(resource.get("id") or ""))
    return created({"permissions": found} if found else {})


async def get_permission(request: web.Request) -> web.Response:
    caller = principal(request)
    wanted = field(await body(request), "permissionId")
    if not wanted:
        raise BadRequest("permissionId is required")
    perm = catalogue.PERMISSIONS_BY_ID.get(wanted)
    held = [c for name, c in role(caller).permissions if perm is not None and name == perm.name]
    if perm is None or not held:
        raise NotFound(f"permission {wanted} not found in roles")
    return created({"permission": {"operation": perm.operation, "constraint": held[0]}})
