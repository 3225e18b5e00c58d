"""Thumbnails made with Pillow, as oCIS's thumbnailer makes them (services/thumbnails/pkg/thumbnail):
the target size is the closest configured resolution, a processor (thumbnail, fill, fit, resize)
scales the image, text files are drawn black on a white 640x480 page, and the output type is
PNG, GIF or JPEG. Runs in a worker thread (store.py); nothing here touches the event loop.

Guards against hostile input, in this order: a byte cap on the file, only the image decoders
named in DECODERS (never Ghostscript, never a plugin that shells out), the declared width and
height checked against the caps before a single pixel is decoded, and a budget on the frames of
an animated GIF.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageSequence, UnidentifiedImageError

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
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
          "/usr/share/fonts/dejavu/DejaVuSans.ttf")
_WORD = re.compile(r"\s*\S+")


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
    limit = TEXT_READ if req.text else limits.max_file_size + 1
    data = _read(path, limit) if isinstance(path, Path) else path(limit)
    if req.text:
        image: Image.Image = _text_page(data.decode("utf-8", errors="replace"))
        return _encode_still(_scaled(image, req, resolutions), req.output)
    if len(data) > limits.max_file_size:
        raise TooLarge("thumbnails: image is too large")
    image = _open(data, limits)
    if req.output == "gif" and getattr(image, "n_frames", 1) > 1:
        return _animated(image, req, resolutions, limits)
    try:
        if image.format == "JPEG":   # decode at a power-of-two reduction close to the target
            image.draft("RGB", closest_match(resolutions, (req.width, req.height), image.size))
        image = ImageOps.exif_transpose(image)
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Undecodable(str(exc)) from None
    return _encode_still(_scaled(_normal_mode(image), req, resolutions), req.output)


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(limit)


def _open(data: bytes, limits: Limits) -> Image.Image:
    """The image header only: its declared size is checked before anything is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=DECODERS)
    except Image.DecompressionBombError:
        raise TooLarge("thumbnails: image is too large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Undecodable(str(exc)) from None
    width, height = image.size
    if width > limits.max_width or height > limits.max_height or width < 1 or height < 1:
        raise TooLarge("thumbnails: image is too large")
    return image


def _normal_mode(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the image has transparency (palettes and CMYK resample badly)."""
    alpha = "A" in image.getbands() or "transparency" in image.info
    wanted = "RGBA" if alpha else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _process(image: Image.Image, size: tuple[int, int], processor: str) -> Image.Image:
    """imaging.Thumbnail/Fill (scale and crop to the size), Fit (within it, no upscaling) and
    Resize (exactly the size)."""
    if processor == "fit":
        fitted = image.copy()
        fitted.thumbnail(size, Image.Resampling.LANCZOS)
        return fitted
    if processor == "resize":
        return image.resize(size, Image.Resampling.LANCZOS)
    return ImageOps.fit(image, size, Image.Resampling.LANCZOS)


def _processor(req: Request, animated: bool) -> str:
    if req.processor in PROCESSORS:
        return req.processor
    return "resize" if animated or req.output == "gif" else "thumbnail"


def _scaled(image: Image.Image, req: Request,
            resolutions: Sequence[tuple[int, int]]) -> Image.Image:
    size = closest_match(resolutions, (req.width, req.height), image.size)
    return _process(image, size, _processor(req, animated=False))


def _encode_still(image: Image.Image, output: str) -> bytes:
    buf = io.BytesIO()
    if output == "jpeg":
        if image.mode != "RGB":          # JPEG has no alpha: transparent parts become white
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
            image = flat
        image.save(buf, "JPEG", quality=80)
    elif output == "gif":
        image.save(buf, "GIF")
    else:
        image.save(buf, "PNG")
    return buf.getvalue()


def _animated(image: Image.Image, req: Request, resolutions: Sequence[tuple[int, int]],
              limits: Limits) -> bytes:
    """An animated GIF stays animated (oCIS GifGenerator), within a frame and pixel budget;
    past it only the first frame is kept."""
    pixels = image.size[0] * image.size[1]
    budget = limits.max_width * limits.max_height
    size = closest_match(resolutions, (req.width, req.height), image.size)
    processor = _processor(req, animated=True)
    frames: list[Image.Image] = []
    durations: list[int] = []
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            if index >= MAX_GIF_FRAMES or (index + 1) * pixels > budget:
                break
            frames.append(_process(frame.convert("RGBA"), size, processor))
            durations.append(int(frame.info.get("duration", 100)))
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        if not frames:
            raise Undecodable(str(exc)) from None
    if len(frames) < 2:
        return _encode_still(frames[0], "gif")
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=durations,
                   loop=int(image.info.get("loop", 0)), disposal=2)
    return buf.getvalue()


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed (covers far more scripts than Pillow's built-in font)."""
    for candidate in _FONTS:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, TEXT_SIZE)
    return ImageFont.load_default(size=TEXT_SIZE)


def _text_page(text: str) -> Image.Image:
    """Text black on a white page, words wrapped, a too-long word broken by characters, lines
    1.5 times the font size apart, cut where the page ends (oCIS TxtToImageConverter)."""
    page = Image.new("RGB", TEXT_PAGE, "white")
    draw = ImageDraw.Draw(page)
    font = _font()
    left, right, bottom = TEXT_MARGIN, TEXT_PAGE[0] - TEXT_MARGIN, TEXT_PAGE[1] - TEXT_MARGIN
    step = TEXT_SIZE * 3 // 2
    x: float = left
    y = TEXT_MARGIN
    for line in text.splitlines():
        for word in _WORD.findall(line.expandtabs(4)):
            width = draw.textlength(word, font=font)
            if x + width > right and x > left:       # wrap before the word
                x, y, word = left, y + step, word.lstrip()
                width = draw.textlength(word, font=font)
            if y + TEXT_SIZE > bottom:
                return page
            if x + width <= right:
                draw.text((x, y), word, fill="black", font=font)
                x += width
                continue
            for char in word:                        # wider than a line: break anywhere
                char_width = draw.textlength(char, font=font)
                if x + char_width > right:
                    x, y = left, y + step
                    if y + TEXT_SIZE > bottom:
                        return page
                draw.text((x, y), char, fill="black", font=font)
                x += char_width
        x, y = left, y + step
        if y + TEXT_SIZE > bottom:
            break
    return page
