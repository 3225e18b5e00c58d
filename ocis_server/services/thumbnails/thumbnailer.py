"""Thumbnails made with Pillow, as oCIS's thumbnailer makes them (services/thumbnails/pkg/thumbnail):
the target size is the closest configured resolution, a processor (thumbnail, fill, fit, resize)
scales the image, text files are drawn black on a white 640x480 page, and the output type is
PNG, GIF or JPEG. Runs in a worker thread (store.py); nothing here touches the event loop.
The Pillow part is pillow.py, loaded with the first thumbnail (Pillow is a few MiB of a
server's resident memory that most servers never need).

Guards against hostile input, in this order: a byte cap on the file, only the image decoders
named in DECODERS (never Ghostscript, never a plugin that shells out), the declared width and
height checked against the caps before a single pixel is decoded, and a budget on the frames of
an animated GIF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Pillow decoders we let near user files; everything else is "cannot be decoded".
DECODERS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
PROCESSORS = ("thumbnail", "fill", "fit", "resize")
# oCIS THUMBNAILS_RESOLUTIONS default (services/thumbnails/pkg/config/defaults/defaultconfig.go).
DEFAULT_RESOLUTIONS = ("16x16", "32x32", "64x64", "128x128", "1080x1920", "1920x1080",
                       "2160x3840", "3840x2160", "4320x7680", "7680x4320")
TEXT_PAGE = (640, 480)       # oCIS TxtToImageConverter: 640x480, 10 px margin, 12 pt at 72 dpi
TEXT_MARGIN = 10
TEXT_SIZE = 12
TEXT_READ = 64 * 1024        # bytes of a text file that can ever show on the page
MAX_GIF_FRAMES = 100


class ThumbnailError(Exception):
    """A file no thumbnail can be made of."""


class TooLarge(ThumbnailError):
    """Over THUMBNAILS_MAX_INPUT_WIDTH/HEIGHT or _IMAGE_FILE_SIZE (oCIS: 403)."""


class Undecodable(ThumbnailError):
    """Not an image Pillow may read, truncated or corrupt."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_width: int = 7680        # THUMBNAILS_MAX_INPUT_WIDTH
    max_height: int = 7680       # THUMBNAILS_MAX_INPUT_HEIGHT
    max_file_size: int = 50_000_000   # THUMBNAILS_MAX_INPUT_IMAGE_FILE_SIZE (50MB)


@dataclass(frozen=True, slots=True)
class Request:
    width: int
    height: int
    processor: str               # "" = the default of the type (gif: resize, else thumbnail)
    text: bool                   # render the bytes as text (text/plain)
    output: str                  # "png" | "jpeg" | "gif"

    @property
    def mimetype(self) -> str:
        return f"image/{self.output}"


def parse_resolutions(values: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """`["32x32", "1920x1080"]` -> ((32, 32), (1920, 1080)); ValueError when malformed."""
    result = []
    for value in values:
        for item in value.replace(",", " ").split():
            width, sep, height = item.lower().partition("x")
            if not sep or not width.isdigit() or not height.isdigit():
                raise ValueError(f"resolution {item!r} is not <width>x<height>")
            result.append((int(width), int(height)))
    return tuple(result)


def output_type(mimetype: str, name: str) -> str:
    """oCIS: the type of an image/png|jpeg|gif file, else by the name's extension GIF or PNG,
    else JPEG (thumbnails GetExtForMime, webdav extensionToThumbnailType)."""
    sub = mimetype.removeprefix("image/")
    if sub in ("png", "gif"):
        return sub
    if sub in ("jpg", "jpeg"):
        return "jpeg"
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    return ext if ext in ("png", "gif") else "jpeg"


def closest_match(resolutions: Sequence[tuple[int, int]], wanted: tuple[int, int],
                  source: tuple[int, int]) -> tuple[int, int]:
    """oCIS Resolutions.ClosestMatch: never scale up (a smaller source keeps its size); else the
    smallest resolution at least as long as asked along the source's long side, or the largest."""
    landscape = source[0] > source[1]
    axis = 0 if landscape else 1
    if source[axis] < wanted[axis]:
        return source
    if not resolutions:
        return wanted
    best: tuple[int, int] | None = None
    for res in resolutions:
        if res[axis] >= wanted[axis] and (best is None or res[axis] < best[axis]):
            best = res
    return best if best is not None else resolutions[-1]


def render(path: Path | Callable[[int], bytes], req: Request,
           resolutions: Sequence[tuple[int, int]], limits: Limits) -> bytes:
    """The encoded thumbnail of the file at `path` (a blob: never changes once written), or of
    the bytes a reader gives (up to the limit it is given: a blob of a remote provider)."""
    from .pillow import render_image

    return render_image(path, req, resolutions, limits)
