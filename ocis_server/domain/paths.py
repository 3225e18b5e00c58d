"""The one path normalisation and validation function. Every user path goes through `split_path`.

aiohttp does not clean `..`, `%2f`, `//` or NUL in a path: we do it here, once (security-notes.md §2).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from .errors import InvalidName

MAX_NAME_BYTES = 255
# Levels below a space root a path may have. The storage resolves a path's folders in one SQL
# query (a join per level, at most 200 in SQLite): deeper paths are refused here, before any
# query, with a clear 400 instead of a database error.
MAX_PATH_DEPTH = 150
_FORBIDDEN = set("/\\\r\n\f\x00")


def validate_name(name: str) -> str:
    """oCIS name rules: not empty, not `.`/`..`, no `/ \\ CR LF FF NUL` or control chars, <= 255 bytes."""
    if name in ("", ".", ".."):
        raise InvalidName(f"invalid name {name!r}")
    for ch in name:
        if ch in _FORBIDDEN or ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise InvalidName("name contains a forbidden character")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidName("name is longer than 255 bytes")
    return name


def check_new_name(name: str) -> None:
    """What reva's ValidateName adds for a name being created (MKCOL, PUT, TUS, the destination
    of MOVE and COPY): it must not be blank once spaces are trimmed. Existing names are not
    judged by it."""
    if not name.strip():
        raise InvalidName("the name must not be empty or only spaces")


def check_depth(parts: tuple[str, ...] | list[str]) -> None:
    """InvalidName (400) for a path deeper than MAX_PATH_DEPTH levels."""
    if len(parts) > MAX_PATH_DEPTH:
        raise InvalidName(f"the path is deeper than {MAX_PATH_DEPTH} levels")


def split_path(raw: str, *, encoded: bool = True) -> tuple[str, ...]:
    """Turn a request path (relative to a space root) into validated name components.

    `encoded=True` percent-decodes exactly once; an encoded `/` (`%2f`) inside a segment, `..`,
    empty segments from `//`, invalid UTF-8 and forbidden characters are all refused with
    InvalidName. A single trailing slash is allowed (collections).
    """
    if raw in ("", "/"):
        return ()
    body = raw.removeprefix("/")
    body = body.removesuffix("/")
    if body.count("/") >= MAX_PATH_DEPTH:
        check_depth(body.split("/"))
    parts: list[str] = []
    for segment in body.split("/"):
        if encoded:
            segment = decode_segment(segment)
        else:
            try:
                segment.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidName("path is not valid UTF-8") from None
        parts.append(validate_name(segment))
    return tuple(parts)


def decode_segment(segment: str) -> str:
    """Percent-decode one URL segment as strict UTF-8 (no name validation); InvalidName if it
    is not valid UTF-8."""
    try:
        return unquote_to_bytes(segment).decode("utf-8", errors="strict")
    except UnicodeError:
        # Decode: bad percent-encoded bytes. Encode: aiohttp hands raw non-UTF-8 header
        # bytes over as lone surrogates (surrogateescape), which cannot be re-encoded.
        raise InvalidName("path is not valid UTF-8") from None


def join_path(parts: tuple[str, ...] | list[str]) -> str:
    """The display path of components: `/a/b`."""
    return "/" + "/".join(parts)
