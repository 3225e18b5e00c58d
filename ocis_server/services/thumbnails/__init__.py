"""Thumbnails of files (oCIS's thumbnails service, in-process): what every page or protocol that
shows a thumbnail shares. Not a service of its own: ocdav (`?preview=1`, as oCIS's webdav service
answers it) and the public link pages (`/s/<token>/preview`) call `make` with a file they have
already found and authorised; `service.py` holds the one thumbnail store per server.
"""

from __future__ import annotations

from ocis_server.domain.previews import has_preview

from .service import (
    Busy,
    NoPreview,
    PreviewConfig,
    Previews,
    ThumbnailError,
    TooLarge,
    Undecodable,
    make,
    mimetype_of,
    parse_size,
    previews_for,
)

__all__ = ["Busy", "has_preview", "NoPreview", "PreviewConfig", "Previews", "ThumbnailError", "TooLarge",
           "Undecodable", "make", "mimetype_of", "parse_size",
           "previews_for"]
