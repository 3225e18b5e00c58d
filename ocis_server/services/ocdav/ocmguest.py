"""The OpenID path of federation on WebDAV: a guest signed in with the access token of another
OCM server's IdP (a trusted foreign issuer whose origin the providers file lists) reaches what
our users shared with their federated address at `/dav/spaces/<storage>$<space>!<node>/<path>`,
the shared node's resource id as in `sharedWithMe`: scoped to the share, with its role
(`sharing/federated_guests.py`). Anything else keeps the namespace's own answer."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import ResourceId
from ocis_server.domain.paths import decode_segment
from ocis_server.sharing import federated_guests
from ocis_server.storage import knows_storage

from .config import CONTEXT_KEY
from .namespaces import DavTarget, principal_of, split_namespace, split_tail


def _signin(request: web.Request, own_url: str) -> federated_guests.ForeignSignIn | None:
    """The issuer and user name of a request made with a foreign issuer's bearer token."""
    caller = request.get("caller")
    claims = getattr(caller, "claims", None)
    if getattr(caller, "method", "") != "bearer" or not isinstance(claims, dict):
        return None
    issuer, name = claims.get("iss"), claims.get("preferred_username")
    if not isinstance(issuer, str) or not isinstance(name, str):
        return None
    mine, theirs = urlsplit(own_url), urlsplit(issuer)
    if (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower()):
        return None                       # our own IdP: a local account, not a federated one
    return federated_guests.ForeignSignIn(issuer, name)


async def guest_target(request: web.Request, raw: str) -> DavTarget | None:
    """The target of `raw` for a federated guest; None when that path does not apply (not such
    a guest, not a resource id of ours, no federated share with them covering it)."""
    ctx = request.app[CONTEXT_KEY]
    user = principal_of(request)
    if user is None:
        return None
    address = federated_guests.address_of(ctx.ocm, user, _signin(request, ctx.public_url))
    if address is None:
        return None
    kind, arg, root_href, tail = split_namespace(raw)
    try:
        rid = ResourceId.parse(decode_segment(arg))
    except BadRequest:
        return None
    storage = ctx.storage
    if kind != "spaces" or not rid.node_id or not knows_storage(storage, rid.storage_id):
        return None
    try:
        node = await storage.get_node(rid.node_id)
        if node.space_id != rid.space_id:
            return None
        access = await federated_guests.access(ctx, user, node, address)
        base = tuple(await storage.node_path(node))
    except NotFound:
        return None
    return DavTarget(access, base, split_tail(tail), root_href, raw)
