"""`/[remote.php/]dav/ocm/<share id>/…`: WebDAV on a federated share we sent, for the recipient's
server (protocol-notes.md §14). The share's secret is the credential: `Authorization: Bearer
<secret>` (OCM 1.1), or HTTP Basic with the secret as the user name (reva, ownCloud 10,
Nextcloud) or as the password. The share id scopes every path to the shared tree, and each
method needs the share's bits, exactly as a public link (scoped.py `authorize_bits`); the
shared item itself is never deleted or moved. The ordinary ocdav handler then runs on the
resolved target, acting as the sharer. The share is read on every request: a removed share or
a changed role holds at once. Served only while OCM is on (OCIS_ENABLE_OCM).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ocis_server.auth.basic import parse_basic
from ocis_server.domain.errors import NotFound, PermissionDenied, Unauthenticated
from ocis_server.domain.paths import split_path
from ocis_server.sharing import federated_sent

from .config import CONTEXT_KEY
from .errors import method_handler
from .namespaces import DESTINATION_KEY, TARGET_KEY, DavTarget
from .scoped import Handler, TokenRoots, authorize_bits, shared_path

OCM = TokenRoots(("/remote.php/dav/ocm/", "/dav/ocm/"),
                 missing="no federated share at this path",
                 outside="the destination is outside this share",
                 challenge='Bearer realm="ocm share"', max_token=256)
_MAX_SECRET = 512


def is_ocm_path(raw: str) -> bool:
    return OCM.owns(raw)


def secrets_of(header: str | None) -> tuple[str, ...]:
    """The candidate secrets a request carries: a bearer token, or Basic user and password."""
    if not header:
        return ()
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
        return (token,) if 0 < len(token) <= _MAX_SECRET else ()
    if scheme.lower() == "basic":
        try:
            user, password = parse_basic(header)
        except Unauthenticated:
            return ()
        return tuple(s for s in (password, user) if 0 < len(s) <= _MAX_SECRET)
    return ()


async def resolve_ocm(request: web.Request, raw: str) -> tuple[DavTarget, federated_sent.Opened]:
    """The share of a /dav/ocm URL opened with the request's secret, and the target inside it."""
    ctx = request.app[CONTEXT_KEY]
    root_href, share_id, tail = OCM.split(raw)
    rel = split_path(tail)
    candidates = secrets_of(request.headers.get("Authorization"))
    if not candidates:
        raise Unauthenticated("the share's secret is missing (Authorization: Bearer <secret>)")
    opened: federated_sent.Opened | None = None
    for secret in candidates:
        try:
            opened = await federated_sent.open_with_secret(ctx, share_id, secret)
            break
        except Unauthenticated:
            continue
    if opened is None:
        raise Unauthenticated("wrong shared secret for this share")
    base, rel = await shared_path(ctx, opened.node, rel)
    return DavTarget(opened.access, base, rel, root_href, raw, public=True), opened


def _guard_root(request: web.Request, target: DavTarget) -> None:
    """The recipient changes what is inside a shared folder, never the shared item itself."""
    if not target.rel and request.method in ("DELETE", "MOVE"):
        raise PermissionDenied("the shared resource itself cannot be deleted or moved")


async def _destination(request: web.Request, share_id: str) -> DavTarget:
    """A MOVE/COPY stays inside the same share and never replaces the shared item."""
    target, opened = await resolve_ocm(request, OCM.destination(request, share_id))
    if not opened.node.is_dir:
        raise PermissionDenied("a file share cannot be copied or moved onto")
    if not target.rel:
        raise PermissionDenied("the shared resource itself cannot be replaced")
    return target


async def handle_ocm(request: web.Request, methods: Mapping[str, Handler]) -> web.StreamResponse:
    """Resolve and authorize a /dav/ocm request, then run the method's ocdav handler."""
    ctx = request.app[CONTEXT_KEY]
    if ctx.ocm is None and not ctx.config.enable_ocm:
        raise NotFound("federated sharing is not enabled on this server")
    handler = method_handler(request, methods)
    if request.method == "OPTIONS":
        return await handler(request)
    target, opened = await OCM.resolve(request, resolve_ocm)
    _guard_root(request, target)
    await authorize_bits(request, target, opened.access.permissions)
    if request.method in ("MOVE", "COPY"):
        request[DESTINATION_KEY] = await _destination(request, opened.share.id)
    request[TARGET_KEY] = target
    request["principal"] = opened.creator     # acts for the sharer, like a public link
    return await handler(request)
