"""The ocdav aiohttp application: one per mount prefix, every DAV method dispatched from one
table to its module (Radicale-style one module per verb family).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ocis_server.auth.publiclink import LinkPasswords
from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.services.context import ServiceContext

from .chunking import handle_uploads, is_uploads_path
from .config import CONFIG_KEY, CONTEXT_KEY, POLLS_KEY, OcdavConfig, PollCache
from .errors import DavError, error_middleware
from .locking import handle_lock, handle_unlock
from .meta import META_ROOTS, handle_meta_node, is_meta_node_path
from .ocmfiles import handle_ocm, is_ocm_path
from .preview import attach_previews
from .propstream import handle_propfind
from .proppatch import handle_proppatch
from .publicfiles import PASSWORDS_KEY, handle_public, is_public_path
from .remotespaces import (
    handle_remote_space,
    handle_remote_tus,
    is_remote_space_path,
    is_remote_upload,
    refresh_for_root,
    remote_mount,
    remote_upload,
)
from .report import handle_report
from .status import handle_status
from .transfer import handle_get, handle_put
from .trashbin import TRASH_ROOTS, handle_trash
from .tree import handle_copy, handle_delete, handle_mkcol, handle_move
from .tus import DATA_MOUNT, TUS_HEADERS, add_data_routes, handle_post
from .versions import handle_meta

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATUS_MOUNTS = ("/status.php", "/status")
# Paths that may lie in the share jail: the legacy `/Shares` or the jail space's id.
JAIL_MARKS = ("/Shares", SHARE_JAIL_ID)


async def handle_options(request: web.Request) -> web.StreamResponse:
    """Answered without authentication (reva options.go); advertises TUS (tus.py)."""
    return web.Response(status=204, headers={
        "DAV": "1, 2",
        "Allow": ", ".join(METHODS),
        "MS-Author-Via": "DAV",
        "Accept-Ranges": "bytes",
        **TUS_HEADERS,
    })


METHODS: dict[str, Handler] = {
    "OPTIONS": handle_options,
    "GET": handle_get,
    "HEAD": handle_get,
    "PUT": handle_put,
    "DELETE": handle_delete,
    "MKCOL": handle_mkcol,
    "COPY": handle_copy,
    "MOVE": handle_move,
    "PROPFIND": handle_propfind,
    "PROPPATCH": handle_proppatch,
    "LOCK": handle_lock,
    "UNLOCK": handle_unlock,
    "REPORT": handle_report,        # favourites and name search (report.py)
    "POST": handle_post,            # TUS creation (tus.py)
}


async def dispatch(request: web.Request) -> web.StreamResponse:
    # The trash bin and versions live beside the file namespaces, with their own verbs.
    raw = request.raw_path
    if raw.startswith(TRASH_ROOTS):
        return await handle_trash(request)
    if raw.startswith(META_ROOTS):
        if is_meta_node_path(raw):  # /meta/<fileid>: its path for the caller (meta.py)
            return await handle_meta_node(request)
        return await handle_meta(request)
    if is_uploads_path(raw):        # chunking NG transfers (chunking.py)
        return await handle_uploads(request)
    if is_public_path(raw):         # public links: the token is the credential (publicfiles.py)
        return await handle_public(request, METHODS)
    if is_ocm_path(raw):            # federated shares we sent: the shared secret (ocmfiles.py)
        return await handle_ocm(request, METHODS)
    if is_remote_upload(request):   # an upload created in a remote space: forwarded to its sharer
        return await handle_remote_tus(request)
    if request.method == "POST" and "Tus-Resumable" in request.headers:
        converted = await remote_upload(request)  # a TUS upload into a remote space: one PUT
        if converted is not None:
            return converted
    if is_remote_space_path(raw) and request.method != "OPTIONS":
        return await handle_remote_space(request)   # a federated share: forwarded to its sharer
    if any(mark in raw for mark in JAIL_MARKS):    # maybe a remote space's mount point in the share jail
        forwarded = await remote_mount(request)
        if forwarded is not None:
            return forwarded
    elif request.method == "PROPFIND":
        await refresh_for_root(request)
    handler = METHODS.get(request.method)
    if handler is None:
        raise DavError(405, f"{request.method} is not supported",
                       headers={"Allow": ", ".join(METHODS)})
    return await handler(request)


def create_app(ctx: ServiceContext, mount: str) -> web.Application:
    """The sub-application the runtime mounts at `mount` (see SERVICES in services/__init__)."""
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = OcdavConfig.from_config(ctx.config)
    app[POLLS_KEY] = PollCache()
    app[PASSWORDS_KEY] = LinkPasswords(ctx.throttle)
    if mount == DATA_MOUNT:         # the TUS data gateway: the token in the URL is the credential
        add_data_routes(app)
    elif mount in STATUS_MOUNTS:
        app.router.add_get("", handle_status)
        app.router.add_get("/", handle_status)
    else:
        attach_previews(app, ctx)   # ?preview=1 thumbnails (preview.py)
        # Every path below the mount: namespaces.py maps the raw URL to (space, path).
        app.router.add_route("*", "", dispatch)
        app.router.add_route("*", "/{tail:[\\s\\S]*}", dispatch)
    return app
