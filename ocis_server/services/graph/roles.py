"""oCIS settings roles as Graph `appRole`s of the one application, and a user's role as its single
`appRoleAssignment` (`/v1.0/applications`, `/v1.0/users/{id}/appRoleAssignments`).

Role ids and names come from the one settings catalogue (domain/settings.py), which the settings
service's `roles-list`/`assignments-*` render too; a user holds exactly one role (the user
store's), so assigning a role replaces the previous one, as oCIS's settings do.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.domain import settings as catalogue
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User

from .config import CONFIG_KEY, CONTEXT_KEY
from .drives import read_body
from .me import principal

APPLICATION_NAME = "ownCloud Infinite Scale"
DEFAULT_ROLE = catalogue.DEFAULT_STORE_ROLE


def role_id(role: str) -> str:
    """The settings role id (appRoleId) of a user store role."""
    return catalogue.role_of(role).id


def role_from_id(value: Any) -> str:
    """appRoleId -> role name in the user store; 400 for anything else."""
    if not isinstance(value, str) or value not in catalogue.ROLES_BY_ID:
        raise BadRequest("unknown appRoleId")
    return catalogue.ROLES_BY_ID[value].store_role


def application_id(request: web.Request) -> str:
    return request.app[CONFIG_KEY].application_id


def assignment_id(user: User) -> str:
    """The same id the settings service's `assignments-list` gives this assignment."""
    return catalogue.assignment_id(user.id, user.role)


def assignment_json(request: web.Request, user: User) -> dict[str, Any]:
    return {
        "id": assignment_id(user),
        "appRoleId": role_id(user.role),
        "principalId": user.id,
        "principalType": "User",
        "principalDisplayName": user.display_name,
        "resourceId": application_id(request),
        "resourceDisplayName": APPLICATION_NAME,
    }


def application_json(request: web.Request) -> dict[str, Any]:
    return {
        "id": application_id(request),
        "displayName": APPLICATION_NAME,
        "appRoles": [{"id": role.id, "displayName": role.display_name,
                      "description": role.description, "allowedMemberTypes": ["User"]}
                     for role in catalogue.ROLES],
    }


async def _target(request: web.Request, *, write: bool) -> User:
    """The user named in the path; reading needs admin or oneself, writing needs admin."""
    caller = principal(request)
    ctx = request.app[CONTEXT_KEY]
    user = await ctx.users.get(request.match_info["user_id"])
    if write:
        authz.require(caller, authz.ROLES, "only admins may assign roles")
    if not authz.may_see_user(caller, user):
        raise NotFound("user not found")
    if write and caller.id == user.id:
        # An admin who drops their own Admin role may lock every admin out (oCIS refuses too).
        raise PermissionDenied("you cannot change your own role")
    return user


# --- handlers --------------------------------------------------------------------------------

async def list_applications(request: web.Request) -> web.Response:
    principal(request)
    return web.json_response({"value": [application_json(request)]})


async def get_application(request: web.Request) -> web.Response:
    principal(request)
    if request.match_info["app_id"] != application_id(request):
        raise NotFound("application not found")
    return web.json_response(application_json(request))


async def list_assignments(request: web.Request) -> web.Response:
    user = await _target(request, write=False)
    return web.json_response({"value": [assignment_json(request, user)]})


async def create_assignment(request: web.Request) -> web.Response:
    user = await _target(request, write=True)
    body = await read_body(request)
    if body.get("principalId", user.id) != user.id:
        raise BadRequest("principalId must be the user of this path")
    if body.get("resourceId", application_id(request)) != application_id(request):
        raise BadRequest("resourceId must be the id of this application")
    role = role_from_id(body.get("appRoleId"))
    updated = await request.app[CONTEXT_KEY].users.update(user.id, role=role)
    return web.json_response(assignment_json(request, updated), status=201)


async def delete_assignment(request: web.Request) -> web.Response:
    """Removing the role a user holds leaves them with the default role (User)."""
    user = await _target(request, write=True)
    if request.match_info["assignment_id"] != assignment_id(user):
        raise NotFound("role assignment not found")
    await request.app[CONTEXT_KEY].users.update(user.id, role=DEFAULT_ROLE)
    return web.Response(status=204)
