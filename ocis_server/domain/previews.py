"""Which files have a preview (thumbnail): the one list that the WebDAV `?preview=1` handler,
PROPFIND's `oc:has-preview` and the `files.thumbnail` capability all read.

oCIS's thumbnailer (services/thumbnails/pkg/thumbnail/mimetypes.go) takes PNG, JPEG, GIF, BMP,
TIFF and plain text; its libvips build adds WebP, which Pillow reads as well.
"""

from __future__ import annotations

SUPPORTED_MIME_TYPES: tuple[str, ...] = (
    "image/png", "image/jpg", "image/jpeg", "image/gif", "image/webp",
    "image/bmp", "image/x-ms-bmp", "image/tiff", "text/plain",
)
_SUPPORTED = frozenset(SUPPORTED_MIME_TYPES)


def has_preview(mimetype: str) -> bool:
    """True for a content type the thumbnailer renders (parameters such as charset ignored)."""
    return mimetype.partition(";")[0].strip().lower() in _SUPPORTED
