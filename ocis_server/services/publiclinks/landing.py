"""`/s/<token>`: a public link's landing page. Password form (POST unlock sets a cookie bound to
the link's current password), folder listing or file card, downloads, and an upload form for
upload, edit and file-drop links. Forms carry a double-submit CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from ocis_server.auth import publiclink
from ocis_server.auth.throttle import client_address
from ocis_server.domain import roles
from ocis_server.domain.errors import (
    BadRequest,
    NotFound,
    OcisError,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.domain.paths import split_path
from ocis_server.services.downloads import DOWNLOAD_HEADERS, send_remote_blob
from ocis_server.services import thumbnails
from ocis_server.services.htmlpages import csrf_matches, set_csrf_cookie
from ocis_server.storage import Link, Node

from . import pages
from .config import STATE_KEY, PagesState

CSRF_COOKIE = "ocis_link_csrf"
_CHUNK = 256 * 1024
_MAX_FILES = 100


def _state(request: web.Request) -> PagesState:
    return request.app[STATE_KEY]


def _base(link: Link) -> str:
    return f"/s/{link.token}"


def _unlock_value(state: PagesState, link: Link) -> str:
    message = f"{link.token}\0{link.password_hash}".encode()
    return hmac.new(state.key, message, hashlib.sha256).hexdigest()


def _cookie_name(link: Link) -> str:
    return f"ocis_link_{link.token}"


def _unlocked(request: web.Request, state: PagesState, link: Link) -> bool:
    if link.password_hash is None:
        return True
    sent = request.cookies.get(_cookie_name(link), "")
    return hmac.compare_digest(sent.encode(), _unlock_value(state, link).encode())


def _csrf(request: web.Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _with_csrf(response: web.StreamResponse, csrf: str, secure: bool) -> web.StreamResponse:
    set_csrf_cookie(response, CSRF_COOKIE, csrf, path="/s/", secure=secure)
    return response


def _check_csrf(request: web.Request, sent: str) -> None:
    if not csrf_matches(request, CSRF_COOKIE, sent):
        raise PermissionDenied("the form expired: reload the page and try again")


async def _open(request: web.Request) -> tuple[PagesState, Link, Node]:
    state = _state(request)
    try:
        link, node = await publiclink.open_link(state.ctx.storage, request.match_info["token"])
        await publiclink.link_access(state.ctx.storage, link)
    except NotFound:
        raise NotFound("This link does not exist or has expired.") from None
    return state, link, node


async def _resolve(state: PagesState, link: Link, node: Node, raw: str) -> Node:
    """The node `path` names below the linked folder (a file link has only itself)."""
    rel = split_path(raw)
    if not rel:
        return node
    if not node.is_dir:
        raise NotFound("resource not found")
    base = tuple(await state.ctx.storage.node_path(node))
    return await state.ctx.storage.lookup(node.space_id, base + rel)


def _secure(state: PagesState) -> bool:
    return state.ctx.public_url.startswith("https://")


async def landing(request: web.Request) -> web.StreamResponse:
    state, link, node = await _open(request)
    csrf = _csrf(request)
    secure = _secure(state)
    if not _unlocked(request, state, link):
        return _with_csrf(pages.password_page(_base(link), csrf), csrf, secure)
    if link.link_type == "internal":
        raise web.HTTPSeeOther(f"/f/{quote(node.resource_id, safe='')}")
    return _with_csrf(await _content(request, state, link, node, csrf), csrf, secure)


async def _content(request: web.Request, state: PagesState, link: Link, node: Node, csrf: str,
                   *, error: str = "", notice: str = "", path: str | None = None) -> web.Response:
    title = link.name or node.name
    if link.link_type == "file-drop":
        return pages.drop_page(_base(link), title, csrf, error=error, notice=notice)
    previews = _previews_on(state, link)
    if not node.is_dir:
        return pages.file_page(_base(link), node, preview=previews and thumbnails.has_preview(
            thumbnails.mimetype_of(node.name)))
    path = request.query.get("path", "") if path is None else path
    target = await _resolve(state, link, node, path)
    if not target.is_dir:
        raise web.HTTPSeeOther(f"{_base(link)}/download?path={quote(path)}")
    entries = await state.ctx.storage.children(target)
    clean = "/".join(split_path(path))
    return pages.folder_page(_base(link), title, clean, entries, csrf=csrf,
                             can_upload=bool(link.permissions & roles.CREATE), error=error,
                             notice=notice, previews=previews,
                             types={e.name: thumbnails.mimetype_of(e.name) for e in entries})


def _previews_on(state: PagesState, link: Link) -> bool:
    return (state.previews is not None and state.previews.config.enabled
            and bool(link.permissions & roles.READ))


async def unlock(request: web.Request) -> web.StreamResponse:
    state, link, _ = await _open(request)
    form = await request.post()
    csrf = _csrf(request)
    _check_csrf(request, str(form.get("csrf", "")))
    try:
        await state.passwords.check(link, str(form.get("password", "")),
                                    address=client_address(request, state.ctx.config.trusted_proxies))
    except Unauthenticated:
        return pages.password_page(_base(link), csrf, error="Wrong password.", status=401)
    response = web.Response(status=303, headers={"Location": _base(link),
                                                 "Cache-Control": "no-store"})
    if link.password_hash is not None:
        response.set_cookie(_cookie_name(link), _unlock_value(state, link), path=_base(link),
                            httponly=True, samesite="Lax", secure=_secure(state))
    return response


async def download(request: web.Request) -> web.StreamResponse:
    state, link, node = await _open(request)
    if not _unlocked(request, state, link):
        raise Unauthenticated("Enter the link's password first.")
    if not link.permissions & roles.READ:
        raise PermissionDenied("This link does not allow downloads.")
    target = await _resolve(state, link, node, request.query.get("path", ""))
    if target.is_dir:
        raise BadRequest("only files can be downloaded")
    name = quote(target.name, safe="")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}",
               "Content-Type": "application/octet-stream", "Cache-Control": "no-store",
               **DOWNLOAD_HEADERS}
    source = state.ctx.storage.blob(target)
    if not isinstance(source, Path):     # a provider in another process: streamed through
        return await send_remote_blob(request, source, headers, request.headers.get("Range"))
    return web.FileResponse(source, headers=headers)


async def preview(request: web.Request) -> web.StreamResponse:
    """`/s/<token>/preview?path=&x=&y=&processor=`: a thumbnail for the page's <img> (the unlock
    cookie stands for the password, which an <img> cannot send as oCIS's public-files wants)."""
    state, link, node = await _open(request)
    if not _unlocked(request, state, link):
        raise Unauthenticated("Enter the link's password first.")
    if not _previews_on(state, link) or state.previews is None:
        raise NotFound("no thumbnail")
    target = await _resolve(state, link, node, request.query.get("path", ""))
    try:
        width, height = (int(request.query.get(p, "32")) for p in ("x", "y"))
    except ValueError:
        raise BadRequest("x and y are sizes in pixels") from None
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise BadRequest("x and y are sizes in pixels")
    try:
        data, kind = await thumbnails.make(state.previews, state.ctx.storage, target,
                                           thumbnails.mimetype_of(target.name), width, height,
                                           request.query.get("processor", ""))
    except (thumbnails.NoPreview, thumbnails.Undecodable, FileNotFoundError):
        raise NotFound("no thumbnail") from None
    except thumbnails.TooLarge:
        raise PermissionDenied("thumbnails: image is too large") from None
    except thumbnails.Busy:
        return web.Response(status=429, headers={"Retry-After": "1"})
    return web.Response(body=data, headers={"Content-Type": kind, "Cache-Control": "no-store",
                                            **DOWNLOAD_HEADERS})


async def _free_name(state: PagesState, folder: Node, name: str) -> str:
    taken = {child.name for child in await state.ctx.storage.children(folder)}
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    n = 2
    while f"{stem} ({n}){dot}{ext}" in taken:
        n += 1
    return f"{stem} ({n}){dot}{ext}"


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


async def _store(state: PagesState, link: Link, folder: Node, part: BodyPartReader) -> str:
    name = split_path(part.filename or "")[-1:]
    if not name:
        raise BadRequest("a file has no name")
    wanted = name[0]
    overwrite = bool(link.permissions & roles.UPDATE)
    final = wanted if overwrite else await _free_name(state, folder, wanted)
    path = tuple(await state.ctx.storage.node_path(folder)) + (final,)
    await state.ctx.storage.upload(folder.space_id, path, _chunks(part))
    return final


async def upload(request: web.Request) -> web.StreamResponse:
    state, link, node = await _open(request)
    csrf = _csrf(request)
    if not _unlocked(request, state, link):
        raise Unauthenticated("Enter the link's password first.")
    if not link.permissions & roles.CREATE or not node.is_dir:
        raise PermissionDenied("This link does not allow uploads.")
    path = "" if link.link_type == "file-drop" else request.query.get("path", "")
    folder = await _resolve(state, link, node, path)
    if not folder.is_dir:
        raise BadRequest("uploads go into a folder")
    reader = await request.multipart()
    stored: list[str] = []
    sent_csrf = ""
    error = ""
    while (part := await reader.next()) is not None and len(stored) < _MAX_FILES:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart bodies are not accepted")
        if part.name == "csrf":
            sent_csrf = (await part.text())[:200]
            continue
        if part.name != "file" or not part.filename:
            await part.release()
            continue
        _check_csrf(request, sent_csrf)      # the token field comes before the files
        try:
            stored.append(await _store(state, link, folder, part))
        except OcisError as exc:
            error = f"{part.filename}: {exc.message}"
            break
    if not stored and not error:
        _check_csrf(request, sent_csrf)
        error = "Choose a file to upload."
    notice = f"Uploaded {', '.join(stored)}." if stored else ""
    if stored and link.link_type == "file-drop":     # never tell a dropper what the folder holds
        notice = f"Uploaded {len(stored)} file{'s' if len(stored) > 1 else ''}."
    response = await _content(request, state, link, node, csrf, error=error, notice=notice,
                              path=path)
    response.set_status(200 if stored else 400)
    return response
