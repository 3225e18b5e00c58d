"""What every token-scoped DAV namespace shares, whoever holds the token: a public link
(publicfiles.py) or a federated share's secret (ocmfiles.py). The URL split, the request
preamble (401 with the namespace's challenge), the target inside the shared node,
the rule that a MOVE/COPY stays inside the same token, and the OCS bits each method needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from ocis_server.domain import roles
from ocis_server.domain.errors import (
    BadGateway,
    InvalidName,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.domain.paths import split_path
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Node

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import DavTarget, destination_path, strip_query
from .tus import parse_metadata

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Resolved = TypeVar("Resolved")
_READ_METHODS = ("GET", "HEAD", "PROPFIND")
_UPDATE_METHODS = ("PROPPATCH", "LOCK", "UNLOCK")


@dataclass(frozen=True, slots=True)
class TokenRoots:
    """The URL roots of one token-scoped namespace (`<root><token>/<path inside>`)."""

    roots: tuple[str, ...]
    missing: str               # the 404 message of a path naming no token
    outside: str               # the 502 message of a destination outside the token
    challenge: str             # WWW-Authenticate of a 401
    max_token: int | None = None

    def owns(self, raw: str) -> bool:
        return raw.startswith(self.roots)

    def split(self, raw: str) -> tuple[str, str, str]:
        """(root href of the token, token, encoded tail) of a path in this namespace."""
        for root in self.roots:
            if raw.startswith(root):
                token, slash, tail = raw[len(root):].partition("/")
                if token and (self.max_token is None or len(token) <= self.max_token):
                    return root + token, token, slash + tail
        raise NotFound(self.missing)

    async def resolve(self, request: web.Request,
                      resolver: Callable[[web.Request, str], Awaitable[Resolved]]) -> Resolved:
        """The request path resolved; a missing or wrong credential -> 401 with the challenge."""
        try:
            return await resolver(request, strip_query(request.raw_path))
        except Unauthenticated as exc:
            raise DavError(401, exc.message,
                           headers={"WWW-Authenticate": self.challenge}) from None

    def destination(self, request: web.Request, token: str) -> str:
        """The encoded Destination path of a MOVE/COPY, which must stay inside the same token
        (another namespace or token -> 502, as oCIS)."""
        ctx = request.app[CONTEXT_KEY]
        raw = strip_query(destination_path(request.headers.get("Destination"), request.host,
                                           ctx.public_url))
        if not self.owns(raw) or self.split(raw)[1] != token:
            raise BadGateway(self.outside)
        return raw


async def shared_path(ctx: ServiceContext, node: Node,
                      rel: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(base, rel) of a path inside a shared node. A shared file: the token root and
    `<token>/<name>` are the file, anything below it is not found."""
    if not node.is_dir:
        if rel not in ((), (node.name,)):
            raise NotFound("resource not found")
        rel = ()
    return tuple(await ctx.storage.node_path(node)), rel


async def existing(request: web.Request, target: DavTarget) -> Node | None:
    try:
        return await request.app[CONTEXT_KEY].storage.lookup(target.space_id, target.path)
    except NotFound:
        return None


def need(bits: int, wanted: int) -> None:
    if bits & wanted != wanted:
        raise PermissionDenied("the link or share does not allow this")


def upload_name(request: web.Request) -> tuple[str, tuple[str, ...]]:
    """The `filename` of a TUS creation's Upload-Metadata, and its segments (none if invalid)."""
    name = parse_metadata(request.headers.get("Upload-Metadata", "")).get("filename", "")
    try:
        return name, split_path(name, encoded=False)
    except InvalidName:
        return name, ()


async def authorize_bits(request: web.Request, target: DavTarget, bits: int) -> None:
    """Check the method against the OCS bits a token grants (a link's, a federated share's)."""
    method = request.method
    if method in _READ_METHODS:
        need(bits, roles.READ)
    elif method == "PUT":
        exists = await existing(request, target) is not None
        need(bits, roles.UPDATE if exists else roles.CREATE)
    elif method == "POST":      # TUS creation: the file it names must be new, or editable
        need(bits, roles.CREATE)
        name, parts = upload_name(request)
        upload = target.with_rel(parts if name.startswith("/") else target.rel + parts)
        if parts and await existing(request, upload) is not None:
            need(bits, roles.UPDATE)
    elif method == "MKCOL":
        need(bits, roles.CREATE)
    elif method == "DELETE":
        need(bits, roles.DELETE)
    elif method in ("MOVE", "COPY"):
        need(bits, roles.CREATE | (roles.DELETE if method == "MOVE" else roles.READ))
    elif method in _UPDATE_METHODS:
        need(bits, roles.UPDATE)
