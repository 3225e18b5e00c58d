"""The `frontend` aiohttp application: OCS routes under `/ocs/v1.php` and `/ocs/v2.php`.

The runtime mounts it with `root.add_subapp("/ocs", app)` after its proxy has set
`request["principal"]` (None on the unprotected capabilities/config paths).
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.auth.publiclink import LinkPasswords
from ocis_server.domain.errors import NotFound
from ocis_server.services.context import ServiceContext

from .capabilities import get_capabilities, get_config
from .config import CONFIG_KEY, CONTEXT_KEY, FrontendConfig
from .errors import error_middleware
from .publicshares import LINKS_KEY, tokeninfo
from .remoteshares import add_routes as add_remote_share_routes
from .sharing import (
    accept_share,
    create_share,
    decline_share,
    delete_share,
    get_share,
    list_shares,
    sharees,
    update_received,
    update_share,
)
from .user import (
    delete_signing_key,
    get_current_user,
    get_signing_key,
    get_user,
    get_user_groups,
)

_V = "/{version:v[12]\\.php}"
_SHARING = _V + "/apps/files_sharing/api/v1"


async def _not_found(request: web.Request) -> web.Response:
    # A catch-all route, so that unknown OCS paths get an OCS envelope from the error middleware
    # (an unmatched path never reaches a sub-app's middlewares).
    raise NotFound("Not found")


def create_app(ctx: ServiceContext, mount: str = "/ocs") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = FrontendConfig.from_context(ctx)
    app[LINKS_KEY] = LinkPasswords(ctx.throttle)
    app.router.add_get(_V + "/cloud/capabilities", get_capabilities)
    app.router.add_get(_V + "/config", get_config)
    app.router.add_get(_V + "/cloud/user", get_current_user)
    app.router.add_get(_V + "/cloud/user/signing-key", get_signing_key)
    app.router.add_delete(_V + "/cloud/user/signing-key", delete_signing_key)
    app.router.add_get(_V + "/cloud/users/{userid}", get_user)
    app.router.add_get(_V + "/cloud/users/{userid}/groups", get_user_groups)
    # The share API (sharing.py); `pending/{id}` before `{id}` so it is not taken for a share id.
    app.router.add_get(_SHARING + "/shares", list_shares)
    app.router.add_post(_SHARING + "/shares", create_share)
    app.router.add_post(_SHARING + "/shares/pending/{id}", accept_share)
    app.router.add_delete(_SHARING + "/shares/pending/{id}", decline_share)
    app.router.add_put(_SHARING + "/shares/pending/{id}", update_received)
    app.router.add_get(_SHARING + "/shares/{id}", get_share)
    app.router.add_put(_SHARING + "/shares/{id}", update_share)
    app.router.add_delete(_SHARING + "/shares/{id}", delete_share)
    app.router.add_get(_SHARING + "/sharees", sharees)
    add_remote_share_routes(app, _SHARING)          # federated shares received (OCM)
    app.router.add_get(_SHARING + "/tokeninfo/{kind:protected|unprotected}/{token}", tokeninfo)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
