"""Remote spaces in WebDAV: an accepted federated share of the caller, whose traffic the ocm
service forwards to the sharer (the context's `remote_spaces`). It is reached as its own space,
`/[remote.php/]dav/spaces/<OCM storage id>$<share>/…`, and, for clients that know no spaces
(the ownCloud desktop 2.x), as a mount point of the share jail: `/Shares/<name>/…` in the
legacy namespaces and `<jail>$<jail>/<name>/…` (sharejail.py lists it there). Only the
recipient reaches it, with their own login here; a share that is not theirs, not accepted or
gone is a 404; without the ocm service in this process a 503. The forwarding itself
(allow-list, secret, streaming, rewriting) is the ocm service's.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from urllib.parse import quote, unquote

from aiohttp import web

from ocis_server.domain.errors import InvalidName, NotFound, ServiceUnavailable
from ocis_server.domain.ids import OCM_STORAGE_ID
from ocis_server.domain.paths import decode_segment
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated
from ocis_server.storage import RemoteShare

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import SHARES_FOLDER, SPACES_ROOTS, split_namespace
from .sharejail import JAIL_SPACE, jail_listing
from .tus import parse_metadata

# The space id's `$` as sent or percent-encoded (clients that quote the id send `%24`).
log = logging.getLogger("ocis.ocdav")
_PREFIXES = tuple(root + OCM_STORAGE_ID + sep for root in SPACES_ROOTS
                  for sep in ("$", "%24", "%24".lower()))


def is_remote_space_path(raw: str) -> bool:
    return raw.startswith(_PREFIXES)


def _split(raw: str) -> tuple[str, str, str]:
    """(mount path of the space as sent, space id, encoded path below it) of a remote space
    path."""
    path = raw.partition("?")[0]
    root = next(r for r in SPACES_ROOTS if path.startswith(r))
    space, _, rest = path[len(root):].partition("/")
    try:
        return root + space, decode_segment(space), rest
    except InvalidName:
        raise NotFound("space not found") from None


def _user(request: web.Request) -> User:
    user: User | None = request.get("principal")
    if user is None:
        raise DavError(401, "authentication required")
    return user


async def _forward(ctx: ServiceContext, request: web.Request, share: RemoteShare, rest: str,
                   mount: str) -> web.StreamResponse:
    if ctx.remote_spaces is None:
        raise ServiceUnavailable("federation (the ocm service) does not run here")
    return await ctx.remote_spaces.forward(request, share, rest, mount)


async def handle_remote_space(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT_KEY]
    user = _user(request)
    mount, space, rest = _split(request.raw_path)
    share_id = federated.share_id_of_space(space)
    if share_id is None:
        raise NotFound("space not found")
    share = await federated.one(ctx, user, share_id)
    if share.state != "accepted" or share.expired():
        raise NotFound("space not found")
    return await _forward(ctx, request, share, rest, mount)


# --- as mount points of the share jail ----------------------------------------------------------

def _jail_parts(raw: str) -> tuple[str, list[str]] | None:
    """(href of the jail as the client spelled it, encoded segments below it) when `raw` lies
    in the share jail (legacy `/Shares` or the jail space); None for any other path."""
    try:
        kind, arg, root_href, tail = split_namespace(raw.partition("?")[0])
    except NotFound:
        return None
    segments = [s for s in tail.split("/") if s]
    if kind in ("home", "files") and segments and segments[0] == SHARES_FOLDER:
        return f"{root_href}/{segments[0]}", segments[1:]
    if kind == "spaces" and decode_segment(arg) == JAIL_SPACE:
        return root_href, segments
    return None


async def remote_mount(request: web.Request) -> web.StreamResponse | None:
    """Forward a request below a remote space's mount point in the share jail; None when the
    path names no remote space (the local share jail answers)."""
    user = request.get("principal")
    if user is None or request.method == "OPTIONS":
        return None
    try:
        parts = _jail_parts(request.raw_path)
        if parts is not None and not parts[1]:
            await _refresh(request, user)       # a listing of the jail: fresh ETags first
            return None
    except InvalidName:
        return None
    found = await _in_jail(request, user, request.raw_path)
    if found is None:
        return None
    ctx = request.app[CONTEXT_KEY]
    share, rest, mount = found
    return await _forward(ctx, request, share, rest, mount)


async def _in_jail(request: web.Request, user: User,
                   raw: str) -> tuple[RemoteShare, str, str] | None:
    """(share, encoded path below it, mount path as sent) when `raw` lies below a remote
    space's mount point in the share jail, else None."""
    try:
        parts = _jail_parts(raw)
        if parts is None or not parts[1]:
            return None
        jail_href, segments = parts
        name = decode_segment(segments[0])
    except InvalidName:
        return None
    ctx = request.app[CONTEXT_KEY]
    share = next((s for s in await federated.accepted(ctx, user) if s.name == name), None)
    if share is None:
        return None
    # a local mount of the same name wins (the jail lists the remote one only if none has it),
    # and a real folder `Shares` in the personal space is no share jail at all
    _, listing = await jail_listing(ctx.storage, ctx.users, user)
    if not any(node.id == share.id for node, _ in listing.entries) or not await _jail_is_virtual(
            ctx, user, jail_href):
        return None
    return share, "/".join(segments[1:]), f"{jail_href}/{segments[0]}"


async def remote_upload(request: web.Request) -> web.StreamResponse | None:
    """A TUS creation whose file lies in a remote space (owncloudcmd posts to the DAV root with
    the path below it as `filename`): sent whole in the creation request, it goes to the
    sharer as one streamed PUT and is answered as a finished TUS upload; an upload in several
    requests is created at the sharer (`_create_remote`). None: not a remote space's file."""
    user = request.get("principal")
    meta = request.headers.get("Upload-Metadata", "")
    if user is None or not meta:
        return None
    filename = parse_metadata(meta).get("filename", "")
    if not filename.strip("/"):
        return None                             # the local handler says what is missing
    raw = request.raw_path.partition("?")[0]
    try:
        _, _, root_href, _ = split_namespace(raw)
    except NotFound:
        return None
    full = (root_href if filename.startswith("/") else raw.rstrip("/")) + "/" + quote(
        filename.lstrip("/"), safe="/")
    ctx = request.app[CONTEXT_KEY]
    found = await _in_jail(request, user, full)
    if found is None and is_remote_space_path(full):
        mount, space, rest = _split(full)
        share_id = federated.share_id_of_space(space)
        share = await federated.one(ctx, user, share_id) if share_id else None
        if share is not None and share.state == "accepted" and not share.expired():
            found = share, rest, mount
    if found is None:
        return None
    share, rest, _ = found
    if ctx.remote_spaces is None:
        raise ServiceUnavailable("federation (the ocm service) does not run here")
    length = request.headers.get("Upload-Length", "")
    if (request.content_type != "application/offset+octet-stream"
            or str(request.content_length) != length):
        return await _create_remote(request, user, share, rest)   # TUS at the sharer
    headers = {"Content-Length": length, "Content-Type": "application/octet-stream"}
    mtime = parse_metadata(meta).get("mtime") or request.headers.get("X-OC-Mtime")
    if mtime:
        headers["X-OC-Mtime"] = mtime
    if "OC-Checksum" in request.headers:
        headers["OC-Checksum"] = request.headers["OC-Checksum"]
    status, answer = await ctx.remote_spaces.put(request, share, rest, headers)
    if status not in (200, 201, 204):
        raise DavError(status if 400 <= status < 600 else 502,
                       f"{share.provider} refused the upload ({status})")
    answer.pop("Content-Length", None)
    answer.pop("Content-Type", None)
    return web.Response(status=201, headers={
        **answer, "Tus-Resumable": "1.0.0", "Upload-Offset": length, "Location": full})


# What of a TUS creation passes on to the sharer (with the filename made relative to the folder).
_CREATION_HEADERS = ("Tus-Resumable", "Upload-Length", "Upload-Checksum", "Content-Type",
                     "Content-Length", "OC-Checksum", "X-OC-Mtime")
UPLOAD_QUERY = "ocm-upload"


async def _create_remote(request: web.Request, user: User, share: RemoteShare,
                         rest: str) -> web.StreamResponse:
    """A TUS upload in several requests into a remote space: the creation goes to the sharer's
    folder of the file (TUS there); the client gets paris's own upload URL for it, under the
    remote space (`?ocm-upload=<id>`), which `handle_remote_tus` forwards. The sharer's upload
    URL stays with the ocm service (remoteuploads.py): the client never sees its host."""
    ctx = request.app[CONTEXT_KEY]
    assert ctx.remote_spaces is not None
    folder, _, name = rest.rstrip("/").rpartition("/")
    meta = parse_metadata(request.headers.get("Upload-Metadata", ""))
    meta["filename"] = unquote(name)
    headers = {n: request.headers[n] for n in _CREATION_HEADERS if n in request.headers}
    headers["Upload-Metadata"] = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in meta.items())
    status, answer, upload_id = await ctx.remote_spaces.create_upload(
        request, share, folder + "/" if folder else "", headers, user.id)
    if status != 201:
        raise DavError(status if 400 <= status < 600 else 502,
                       f"{share.provider} refused the upload ({status})")
    answer.pop("Content-Length", None)
    answer.pop("Content-Type", None)
    location = ""
    if upload_id:
        location = (f"{ctx.public_url}{SPACES_ROOTS[1]}{federated.space_id(share)}"
                    f"?{UPLOAD_QUERY}={upload_id}")
    return web.Response(status=201, headers={**answer, "Location": location})


def is_remote_upload(request: web.Request) -> bool:
    return (UPLOAD_QUERY in request.query and request.method != "OPTIONS"
            and is_remote_space_path(request.raw_path))


async def handle_remote_tus(request: web.Request) -> web.StreamResponse:
    """HEAD, PATCH or DELETE of an upload `_create_remote` created: forwarded to the sharer's
    upload URL, for the user who created it, while the share is still accepted."""
    if request.method not in ("HEAD", "PATCH", "DELETE"):
        raise DavError(405, f"{request.method} is not supported on an upload",
                       headers={"Allow": "OPTIONS, HEAD, PATCH, DELETE"})
    ctx = request.app[CONTEXT_KEY]
    user = _user(request)
    if ctx.remote_spaces is None:
        raise ServiceUnavailable("federation (the ocm service) does not run here")
    _, space, rest = _split(request.raw_path)
    upload_id = request.query[UPLOAD_QUERY]
    share_id = ctx.remote_spaces.upload_share(upload_id, user.id)
    if share_id is None or rest.strip("/"):
        raise NotFound("upload session not found")
    share = await federated.one(ctx, user, share_id)
    if (share.state != "accepted" or share.expired()
            or federated.space_id(share) != space):
        raise NotFound("upload session not found")
    return await ctx.remote_spaces.forward_upload(request, share, upload_id, user.id)


async def _jail_is_virtual(ctx: ServiceContext, user: User, jail_href: str) -> bool:
    if not jail_href.endswith("/" + SHARES_FOLDER):
        return True
    try:
        await ctx.storage.lookup(user.id, (SHARES_FOLDER,))
        return False
    except NotFound:
        return True


# How long a listing of the jail waits for the sharers' answers; slower ones finish in the
# background (their answer serves the next listing), so a sharer that does not answer never
# holds up the listing by more than this.
_REFRESH_WAIT = 0.5
_ASKING: set[asyncio.Task[object]] = set()


async def _refresh(request: web.Request, user: User) -> None:
    """Ask the sharers of the caller's remote spaces for their root ETags (each answer is
    remembered a few seconds) before the jail is listed, so that a change made at a sharer
    reaches the jail's ETag, which sync clients poll."""
    ctx = request.app[CONTEXT_KEY]
    if request.method != "PROPFIND" or ctx.remote_spaces is None:
        return
    shares = await federated.accepted(ctx, user)
    if not shares:
        return
    tasks = [asyncio.ensure_future(ctx.remote_spaces.status(s)) for s in shares]
    for task in tasks:
        _ASKING.add(task)
        task.add_done_callback(_done)
    await asyncio.wait(tasks, timeout=_REFRESH_WAIT)


def _done(task: asyncio.Task[object]) -> None:
    _ASKING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("asking a sharer for its remote space failed: %r", task.exception())


async def refresh_for_root(request: web.Request) -> None:
    """A PROPFIND of the legacy home root lists `Shares` with the jail's ETag: fresh too."""
    user = request.get("principal")
    if user is None or request.method != "PROPFIND":
        return
    try:
        kind, _, _, tail = split_namespace(request.raw_path.partition("?")[0])
    except NotFound:
        return
    if kind in ("home", "files") and not tail.strip("/"):
        await _refresh(request, user)
