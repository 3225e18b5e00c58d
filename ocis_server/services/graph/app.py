"""The `graph` aiohttp application: LibreGraph routes relative to the `/graph` mount.

Drive routes exist under `/v1.0` and `/v1beta1` (ownCloud Web lists drives via v1beta1); the
version only changes how space members are rendered.
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.services.context import ServiceContext

from . import drives
from .config import CONFIG_KEY, CONTEXT_KEY, GraphConfig
from .errors import error_middleware
from .me import get_me

_API = "/{api:v1\\.0|v1beta1}"


async def _not_found(request: web.Request) -> web.Response:
    # Unmatched paths never reach a sub-app's middlewares: route them here to get an OData error.
    raise NotFound("no such endpoint")


def create_app(ctx: ServiceContext, mount: str = "/graph") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = GraphConfig.from_context(ctx)
    app.router.add_get("/v1.0/me", get_me)
    app.router.add_get(_API + "/me/drives", drives.list_my_drives)
    app.router.add_get(_API + "/me/drive", drives.get_my_drive)
    app.router.add_get(_API + "/drives", drives.list_drives)
    app.router.add_post(_API + "/drives", drives.create_drive)
    app.router.add_get(_API + "/drives/{drive_id}", drives.get_drive)
    app.router.add_patch(_API + "/drives/{drive_id}", drives.update_drive)
    app.router.add_delete(_API + "/drives/{drive_id}", drives.delete_drive)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
