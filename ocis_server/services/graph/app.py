"""The `graph` aiohttp application: LibreGraph routes relative to the `/graph` mount.

Drive routes exist under `/v1.0` and `/v1beta1` (ownCloud Web lists drives via v1beta1); the
version only changes how space members are rendered.
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.services.context import ServiceContext

from . import driveitems, drives, groups, remotes, roles, sharing, sharing_jail, users
from .config import CONFIG_KEY, CONTEXT_KEY, GraphConfig
from .errors import error_middleware
from .me import get_me

_API = "/{api:v1\\.0|v1beta1}"


async def _not_found(request: web.Request) -> web.Response:
    # Unmatched paths never reach a sub-app's middlewares: route them here to get an OData error.
    raise NotFound("no such endpoint")


def _directory_routes(app: web.Application) -> None:
    """Users, groups and roles (admins write; see users.py, groups.py, roles.py)."""
    add = app.router.add_route
    add("GET", "/v1.0/users", users.list_users)
    add("POST", "/v1.0/users", users.create_user)
    add("GET", "/v1.0/users/{user_id}", users.get_user)
    add("PATCH", "/v1.0/users/{user_id}", users.update_user)
    add("DELETE", "/v1.0/users/{user_id}", users.delete_user)
    add("GET", "/v1.0/users/{user_id}/appRoleAssignments", roles.list_assignments)
    add("POST", "/v1.0/users/{user_id}/appRoleAssignments", roles.create_assignment)
    add("DELETE", "/v1.0/users/{user_id}/appRoleAssignments/{assignment_id}",
        roles.delete_assignment)
    add("GET", "/v1.0/applications", roles.list_applications)
    add("GET", "/v1.0/applications/{app_id}", roles.get_application)
    add("GET", "/v1.0/groups", groups.list_groups)
    add("POST", "/v1.0/groups", groups.create_group)
    add("GET", "/v1.0/groups/{group_id}", groups.get_group)
    add("PATCH", "/v1.0/groups/{group_id}", groups.update_group)
    add("DELETE", "/v1.0/groups/{group_id}", groups.delete_group)
    add("GET", "/v1.0/groups/{group_id}/members", groups.list_members)
    add("POST", "/v1.0/groups/{group_id}/members/$ref", groups.add_member)
    add("DELETE", "/v1.0/groups/{group_id}/members/{member_id}/$ref", groups.remove_member)


def _sharing_routes(app: web.Application) -> None:
    """Sharing NG (sharing.py, sharing_members.py, sharing_jail.py): v1beta1 only, as oCIS."""
    add = app.router.add_route
    drive = "/v1beta1/drives/{drive_id}"
    for item in (drive + "/items/{item_id}", drive + "/root"):
        add("POST", item + "/invite", sharing.invite)
        add("GET", item + "/permissions", sharing.list_permissions)
        add("GET", item + "/permissions/{perm_id}", sharing.get_permission)
        add("PATCH", item + "/permissions/{perm_id}", sharing.update_permission)
        add("DELETE", item + "/permissions/{perm_id}", sharing.delete_permission)
        add("POST", item + "/permissions/{perm_id}/setPassword", sharing.set_password)
        add("POST", item + "/createLink", sharing.create_link)
    add("POST", drive + "/root/children", sharing_jail.mount)
    add("GET", drive + "/items/{item_id}", sharing_jail.get_jail_item)
    add("PATCH", drive + "/items/{item_id}", sharing_jail.hide_jail_item)
    add("DELETE", drive + "/items/{item_id}", sharing_jail.unmount)
    add("GET", "/v1beta1/me/drive/sharedWithMe", sharing_jail.shared_with_me)
    add("GET", "/v1beta1/me/drive/sharedByMe", sharing_jail.shared_by_me)
    add("GET", "/v1beta1/roleManagement/permissions/roleDefinitions", sharing.role_definitions)
    add("GET", "/v1beta1/roleManagement/permissions/roleDefinitions/{role_id}",
        sharing.role_definition_by_id)


def create_app(ctx: ServiceContext, mount: str = "/graph") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = GraphConfig.from_context(ctx)
    app.router.add_get("/v1.0/me", get_me)
    app.router.add_patch("/v1.0/me", users.patch_me)
    app.router.add_post("/v1.0/me/changePassword", users.change_password)
    _directory_routes(app)
    app.router.add_get("/v1.0/me/drives", remotes.my_drives_v1)     # + registered remotes
    remotes.add_routes(app)
    app.router.add_get("/{api:v1beta1}/me/drives", sharing_jail.my_drives)
    app.router.add_get(_API + "/me/drive", drives.get_my_drive)
    app.router.add_get("/v1.0/me/drive/root/children", driveitems.root_children)
    app.router.add_get(_API + "/drives", drives.list_drives)
    app.router.add_post(_API + "/drives", drives.create_drive)
    app.router.add_get(_API + "/drives/{drive_id}", drives.get_drive)
    app.router.add_patch(_API + "/drives/{drive_id}", drives.update_drive)
    app.router.add_delete(_API + "/drives/{drive_id}", drives.delete_drive)
    _sharing_routes(app)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
