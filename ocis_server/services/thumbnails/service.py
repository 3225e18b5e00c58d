"""The thumbnail settings (THUMBNAILS_*, OCIS_DISABLE_PREVIEWS), the one store per server, and
`make`: the thumbnail of a file, from the store or rendered (thumbnailer.py) in a worker thread.

The store key names the file's content (its SHA1, else its id and etag), the rendering asked for
and the resolution list: a changed file or a changed setting gets a new thumbnail.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ocis_server.domain.previews import has_preview
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Node, RemoteBlob, Storage

from .store import Busy, ThumbnailStore
from .thumbnailer import (
    DEFAULT_RESOLUTIONS,
    Limits,
    Request,
    ThumbnailError,
    TooLarge,
    Undecodable,
    output_type,
    parse_resolutions,
    render,
)

__all__ = ["Busy", "NoPreview", "PreviewConfig", "Previews", "ThumbnailError", "TooLarge",
           "Undecodable", "make", "mimetype_of", "parse_size", "previews_for"]

READ_TIMEOUT = 60.0    # seconds a render thread waits for the bytes of a remote blob
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12,
          "tib": 2**40}


class NoPreview(ThumbnailError):
    """The file's type has no thumbnail (or it is empty)."""


def mimetype_of(name: str) -> str:
    """The content type of a file name, as WebDAV reports it (ocdav propfind.mimetype)."""
    stem, dot, ext = name.rpartition(".")
    guessed = mimetypes.guess_type(f"x.{ext.lower()}", strict=False)[0] if dot and stem else None
    return guessed or "application/octet-stream"


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
    """The settings and the thumbnail store of one server."""

    def __init__(self, config: PreviewConfig) -> None:
        self.config = config
        self.store = ThumbnailStore(config.cache_root, config.cache_max_bytes,
                                    workers=min(2, os.cpu_count() or 1),
                                    max_pending=config.max_pending)


# One store per service context, shared by every application that shows thumbnails (the DAV
# mounts, the link pages): they serve the same files, and two stores over one folder would each
# count only their own bytes.
_SHARED: dict[int, tuple[ServiceContext, Previews, list[int]]] = {}


def previews_for(app: web.Application, ctx: ServiceContext) -> Previews:
    """The context's Previews (made on first use), released when `app` is cleaned up."""
    entry = _SHARED.get(id(ctx))
    if entry is None or entry[0] is not ctx:
        entry = (ctx, Previews(PreviewConfig.from_config(ctx.config)), [0])
        _SHARED[id(ctx)] = entry
    entry[2][0] += 1

    async def release(_app: web.Application) -> None:
        entry[2][0] -= 1
        if entry[2][0] <= 0 and _SHARED.get(id(ctx)) is entry:
            del _SHARED[id(ctx)]
            entry[1].store.close()
    app.on_cleanup.append(release)
    return entry[1]


def _key(node: Node, req: Request, config: PreviewConfig) -> str:
    content = node.checksums.get("SHA1") or f"{node.id}:{node.etag}"
    text = (f"{content}|{int(req.text)}|{req.width}x{req.height}|{req.processor}|{req.output}|"
            f"{config.resolutions}")
    return hashlib.sha256(text.encode()).hexdigest()


def _remote_reader(blob: RemoteBlob) -> Callable[[int], bytes]:
    """Reads up to `limit` bytes of a remote provider's blob from a render thread (through the
    event loop that owns the connection), only when the thumbnail is not stored yet."""
    loop = asyncio.get_running_loop()

    async def fetch(limit: int) -> bytes:
        body = await blob.read(f"bytes=0-{max(0, limit - 1)}")
        try:
            if body.status == 416:       # an empty blob
                return b""
            parts = [chunk async for chunk in body.chunks]
            return b"".join(parts)[:limit]
        finally:
            body.release()

    def read(limit: int) -> bytes:
        return asyncio.run_coroutine_threadsafe(fetch(limit), loop).result(READ_TIMEOUT)

    return read


async def make(previews: Previews, storage: Storage, node: Node, mimetype: str, width: int,
               height: int, processor: str = "") -> tuple[bytes, str]:
    """(thumbnail bytes, its content type) of a file the caller may read. Raises NoPreview,
    TooLarge, Undecodable, Busy; FileNotFoundError when the blob went away meanwhile."""
    config = previews.config
    if node.is_dir or not has_preview(mimetype) or node.blob_id is None or node.size == 0:
        raise NoPreview(f"{node.name} has no thumbnail")
    if node.size > config.limits.max_file_size:
        raise TooLarge("thumbnails: image is too large")
    req = Request(width, height, processor.strip().lower(), mimetype == "text/plain",
                  output_type(mimetype, node.name))
    source = storage.blob(node)
    path = source if isinstance(source, Path) else _remote_reader(source)
    data = await previews.store.get(_key(node, req, config),
                                    lambda: render(path, req, config.resolutions, config.limits))
    return data, req.mimetype
