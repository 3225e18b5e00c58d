"""Remote spaces in WebDAV: `/[remote.php/]dav/spaces/<OCM storage id>$<share>/…` is an accepted
federated share of the caller, whose traffic the ocm service forwards to the sharer (the
context's `remote_spaces`). Only the recipient reaches it, with their own login here; a share
that is not theirs, not accepted or gone is a 404; without the ocm service in this process a
503. The forwarding itself (allow-list, secret, streaming, rewriting) is the ocm service's.
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import NotFound, ServiceUnavailable
from ocis_server.domain.ids import OCM_STORAGE_ID
from ocis_server.sharing import federated

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import SPACES_ROOTS

_PREFIXES = tuple(root + OCM_STORAGE_ID + "$" for root in SPACES_ROOTS)


def is_remote_space_path(raw: str) -> bool:
    return raw.startswith(_PREFIXES)


def _split(raw: str) -> tuple[str, str, str]:
    """(mount path of the space, space id, encoded path below it) of a remote space path."""
    path = raw.partition("?")[0]
    root = next(r for r in SPACES_ROOTS if path.startswith(r))
    space, _, rest = path[len(root):].partition("/")
    return root + space, space, rest


async def handle_remote_space(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT_KEY]
    user = request.get("principal")
    if user is None:
        raise DavError(401, "authentication required")
    mount, space, rest = _split(request.raw_path)
    share_id = federated.share_id_of_space(space)
    if share_id is None:
        raise NotFound("space not found")
    share = await federated.one(ctx, user, share_id)
    if share.state != "accepted" or share.expired():
        raise NotFound("space not found")
    if ctx.remote_spaces is None:
        raise ServiceUnavailable("federation (the ocm service) does not run here")
    return await ctx.remote_spaces.forward(request, share, rest, mount)
