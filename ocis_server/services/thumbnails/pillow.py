"""The Pillow half of the thumbnailer (thumbnailer.py has the rules and the API): decode with the
allowed decoders only, check the declared size first, scale, encode; text drawn on a page.
Imported by `thumbnailer.render` on the first thumbnail, in a worker thread."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageSequence, UnidentifiedImageError

from .thumbnailer import (
    DECODERS,
    MAX_GIF_FRAMES,
    PROCESSORS,
    TEXT_MARGIN,
    TEXT_PAGE,
    TEXT_READ,
    TEXT_SIZE,
    Limits,
    Request,
    TooLarge,
    Undecodable,
    closest_match,
)

_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
          "/usr/share/fonts/dejavu/DejaVuSans.ttf")
_WORD = re.compile(r"\s*\S+")


def render_image(path: Path | Callable[[int], bytes], req: Request,
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
