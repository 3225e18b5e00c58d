"""`GET <file URL>?preview=1&x=&y=`: a thumbnail of a file, on every DAV namespace (files, spaces,
legacy webdav, public links), as oCIS's webdav service answers it (services/webdav/pkg/service/v0
/service.go, dav/requests/thumbnail.go; acceptance suite coreApiWebdavPreviews).

`x`, `y`: the wanted size (default 32; 0, negative or not an integer -> 400 "Cannot set width of
0 or smaller!"); `processor`: thumbnail | fill | fit | resize. `a` (keep aspect), `c` (the etag,
a cache buster for the browser) and `scalingup` are taken and, as in oCIS, change nothing: a
thumbnail is never scaled up, and `processor=fit` is how a client keeps the aspect ratio.
A file that cannot have a thumbnail (unsupported type, missing, not visible) -> 404 "File with
name <name> could not be located"; a folder -> 400 "Unsupported file type"; over the input caps
-> 403 "thumbnails: image is too large"; OCIS_DISABLE_PREVIEWS -> 404.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.domain.previews import has_preview
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Node

from .errors import DavError
from .namespaces import request_target, storage_of
from .propfind import mimetype
from .thumbcache import Busy, ThumbnailStore
from .thumbnailer import (
    DEFAULT_RESOLUTIONS,
    Limits,
    Request,
    TooLarge,
    Undecodable,
    output_type,
    parse_resolutions,
    render,
)

DEFAULT_SIZE = 32                    # webdav requests.DefaultWidth / DefaultHeight
MAX_DIMENSION = 2**31 - 1            # oCIS parses int32
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12,
          "tib": 2**40}


def parse_size(value: object) -> int:
    """`50MB` -> 50000000, `1KiB` -> 1024, `1234` -> 1234 (oCIS's byte size notation)."""
    match = _SIZE.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a size such as 50MB")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


@dataclass(frozen=True, slots=True)
class PreviewConfig:
    enabled: bool = True                                   # not OCIS_DISABLE_PREVIEWS
    resolutions: tuple[tuple[int, int], ...] = parse_resolutions(DEFAULT_RESOLUTIONS)
    limits: Limits = Limits()
    cache_root: Path | None = None
    cache_max_bytes: int = 256 * 2**20
    max_pending: int = 0

    @classmethod
    def from_config(cls, config: Any) -> PreviewConfig:
        """The THUMBNAILS_* settings (config/schema.py); a config without them keeps defaults."""
        def get(name: str, default: Any) -> Any:
            value = getattr(config, name, None)
            return default if value is None else value

        root = get("thumbnails_filesystemstorage_root", "")
        base = getattr(config, "base_data_path", None)
        cache_root = Path(root).expanduser() if root else (Path(base) / "thumbnails"
                                                           if base is not None else None)
        return cls(
            enabled=not get("disable_previews", False),
            resolutions=parse_resolutions(get("thumbnails_resolutions", DEFAULT_RESOLUTIONS)),
            limits=Limits(int(get("thumbnails_max_input_width", 7680)),
                          int(get("thumbnails_max_input_height", 7680)),
                          parse_size(get("thumbnails_max_input_image_file_size", "50MB"))),
            cache_root=cache_root,
            cache_max_bytes=parse_size(get("thumbnails_cache_max_size", "256MiB")),
            max_pending=int(get("thumbnails_max_concurrent_requests", 0)))


class Previews:
    """What create_app keeps on the application: the settings and the thumbnail store."""

    def __init__(self, config: PreviewConfig) -> None:
        self.config = config
        self.store = ThumbnailStore(config.cache_root, config.cache_max_bytes,
                                    workers=min(2, os.cpu_count() or 1),
                                    max_pending=config.max_pending)


PREVIEWS_KEY = web.AppKey("ocdav_previews", Previews)
# One store per service context, shared by the DAV mounts (/dav, /remote.php, /webdav): they
# serve the same files, and two stores over one folder would each count only their own bytes.
_SHARED: dict[int, tuple[ServiceContext, Previews, list[int]]] = {}


def attach_previews(app: web.Application, ctx: ServiceContext) -> None:
    """Give a DAV mount's application the context's thumbnail store (made on first use)."""
    entry = _SHARED.get(id(ctx))
    if entry is None or entry[0] is not ctx:
        entry = (ctx, Previews(PreviewConfig.from_config(ctx.config)), [0])
        _SHARED[id(ctx)] = entry
    entry[2][0] += 1
    app[PREVIEWS_KEY] = entry[1]

    async def release(_app: web.Application) -> None:
        entry[2][0] -= 1
        if entry[2][0] <= 0 and _SHARED.get(id(ctx)) is entry:
            del _SHARED[id(ctx)]
            entry[1].store.close()
    app.on_cleanup.append(release)


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


def _request_name(request: web.Request) -> str:
    path = request.path.rstrip("/")
    return path.rpartition("/")[2]


async def _node(request: web.Request) -> Node:
    """The file the URL names, as GET would find it; anything unseen is "could not be located"."""
    try:
        target = await request_target(request)
        return await storage_of(request).lookup(target.space_id, target.path)
    except NotFound:
        raise _not_located(_request_name(request)) from None


def _cache_key(node: Node, req: Request, config: PreviewConfig) -> str:
    """Content (SHA1, else the node and its etag), rendering and settings: a changed file or a
    changed resolution list gets a new thumbnail."""
    content = node.checksums.get("SHA1") or f"{node.id}:{node.etag}"
    text = (f"{content}|{int(req.text)}|{req.width}x{req.height}|{req.processor}|{req.output}|"
            f"{config.resolutions}")
    return hashlib.sha256(text.encode()).hexdigest()


async def handle_preview(request: web.Request) -> web.StreamResponse:
    previews = request.app[PREVIEWS_KEY]
    config = previews.config
    if not config.enabled:
        raise DavError(404, "previews are disabled")
    width = _dimension(request, "x", "width")
    height = _dimension(request, "y", "height")
    node = await _node(request)
    if node.is_dir:
        raise DavError(400, "Unsupported file type")
    kind = mimetype(node.name)
    if not has_preview(kind) or node.blob_id is None or node.size == 0:
        raise _not_located(node.name)
    if node.size > config.limits.max_file_size:
        raise DavError(403, "thumbnails: image is too large")
    processor = request.query.get("processor", "").strip().lower()
    req = Request(width, height, processor, kind == "text/plain", output_type(kind, node.name))
    path = storage_of(request).blob_path(node)
    try:
        data = await previews.store.get(
            _cache_key(node, req, config),
            lambda: render(path, req, config.resolutions, config.limits))
    except TooLarge as exc:
        raise DavError(403, str(exc)) from None
    except Undecodable:
        # oCIS answers 500 "could not get image"; a broken file is not a server fault, and web
        # treats 404 as "no preview here" without retrying.
        raise DavError(404, f"could not make a thumbnail of {node.name}: not a readable image") \
            from None
    except FileNotFoundError:
        raise _not_located(node.name) from None
    except Busy as exc:
        raise DavError(429, str(exc), headers={"Retry-After": "1"}) from None
    return web.Response(body=data, headers={"Content-Type": req.mimetype,
                                            "X-Content-Type-Options": "nosniff"})
