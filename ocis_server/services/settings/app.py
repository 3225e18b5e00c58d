"""The `settings` aiohttp application, mounted at `/api/v0/settings`: one POST route per call."""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.services.context import ServiceContext

from . import roles, values
from .config import CONFIG_KEY, CONTEXT_KEY, SettingsConfig
from .errors import error_middleware

ROUTES = {
    "bundles-list": values.list_bundles,
    "bundle-get": values.get_bundle,
    "values-list": values.list_values,
    "values-get": values.get_value,
    "values-get-by-unique-identifiers": values.get_value_by_identifiers,
    "values-save": values.save_value,
    "roles-list": roles.list_roles,
    "assignments-list": roles.list_assignments,
    "assignments-add": roles.add_assignment,
    "assignments-remove": roles.remove_assignment,
    "permissions-list": roles.list_permissions,
    "permissions-list-by-resource": roles.list_permissions_by_resource,
    "permissions-get-by-id": roles.get_permission,
}


async def _not_found(request: web.Request) -> web.Response:
    raise NotFound("no such settings endpoint")


def create_app(ctx: ServiceContext, mount: str = "/api/v0/settings") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = SettingsConfig.from_context(ctx)
    for name, handler in ROUTES.items():
        app.router.add_post("/" + name, handler)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
