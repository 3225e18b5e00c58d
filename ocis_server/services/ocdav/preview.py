"""`GET <file URL>?preview=1&x=&y=`: a thumbnail of a file, on every DAV namespace (files, spaces,
legacy webdav, public links), as oCIS's webdav service answers it (services/webdav/pkg/service/v0
/service.go, dav/requests/thumbnail.go; acceptance suite coreApiWebdavPreviews). The thumbnail
itself comes from services/thumbnails.

`x`, `y`: the wanted size (default 32; 0, negative or not an integer -> 400 "Cannot set width of
0 or smaller!"); `processor`: thumbnail | fill | fit | resize. `a` (keep aspect), `c` (the etag,
a cache buster for the browser) and `scalingup` are taken and, as in oCIS, change nothing: a
thumbnail is never scaled up, and `processor=fit` is how a client keeps the aspect ratio.
A file that cannot have a thumbnail (unsupported type, missing, not visible) -> 404 "File with
name <name> could not be located"; a folder -> 400 "Unsupported file type"; over the input caps
-> 403 "thumbnails: image is too large"; OCIS_DISABLE_PREVIEWS -> 404.
"""

from __future__ import annotations

import re

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.services import thumbnails
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Node

from .errors import DavError
from .namespaces import request_target, storage_of
from .propfind import mimetype

DEFAULT_SIZE = 32                    # webdav requests.DefaultWidth / DefaultHeight
MAX_DIMENSION = 2**31 - 1            # oCIS parses int32
PREVIEWS_KEY = web.AppKey("ocdav_previews", thumbnails.Previews)


def attach_previews(app: web.Application, ctx: ServiceContext) -> None:
    """Give a DAV mount's application the server's thumbnail store."""
    app[PREVIEWS_KEY] = thumbnails.previews_for(app, ctx)


def is_preview(request: web.Request) -> bool:
    """oCIS's proxy sends `?preview=1` GETs to the webdav service; `preview=0` is a download."""
    return request.method in ("GET", "HEAD") and request.query.get("preview") == "1"


def _dimension(request: web.Request, param: str, name: str) -> int:
    raw = request.query.get(param, "")
    if raw == "":
        return DEFAULT_SIZE
    if not re.fullmatch(r"[+-]?\d+", raw) or not 1 <= int(raw) <= MAX_DIMENSION:
        # The message is oC10's, kept by oCIS for compatibility (thumbnail.go parseDimension).
        raise DavError(400, f"Cannot set {name} of 0 or smaller!")
    return int(raw)


def _not_located(name: str) -> DavError:
    return DavError(404, f"File with name {name} could not be located")


async def _node(request: web.Request) -> Node:
    """The file the URL names, as GET would find it; anything unseen is "could not be located"."""
    try:
        target = await request_target(request)
        return await storage_of(request).lookup(target.space_id, target.path)
    except NotFound:
        raise _not_located(request.path.rstrip("/").rpartition("/")[2]) from None


async def handle_preview(request: web.Request) -> web.StreamResponse:
    previews = request.app[PREVIEWS_KEY]
    if not previews.config.enabled:
        raise DavError(404, "previews are disabled")
    width = _dimension(request, "x", "width")
    height = _dimension(request, "y", "height")
    node = await _node(request)
    if node.is_dir:
        raise DavError(400, "Unsupported file type")
    try:
        data, kind = await thumbnails.make(previews, storage_of(request), node,
                                           mimetype(node.name), width, height,
                                           request.query.get("processor", ""))
    except (thumbnails.NoPreview, FileNotFoundError):
        raise _not_located(node.name) from None
    except thumbnails.TooLarge as exc:
        raise DavError(403, str(exc)) from None
    except thumbnails.Undecodable:
        # oCIS answers 500 "could not get image"; a broken file is not a server fault, and web
        # treats 404 as "no preview here" without retrying.
        raise DavError(404, f"could not make a thumbnail of {node.name}: not a readable image") \
            from None
    except thumbnails.Busy as exc:
        raise DavError(429, str(exc), headers={"Retry-After": "1"}) from None
    return web.Response(body=data, headers={"Content-Type": kind,
                                            "X-Content-Type-Options": "nosniff"})
