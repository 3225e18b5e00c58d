"""The OpenID path of federation (docs/federation.md): a user of another OCM server signs in here
with their own server's access token (a trusted foreign issuer, OCIS_OIDC_TRUSTED_ISSUERS) and
reaches what our users shared with their federated address, directly, without the shared
secret. Their address is `<preferred_username>@<domain>`, the domain being the provider the
providers file lists on the issuer's origin; the access is exactly what the federated shares
with that address give (the same cap as `/dav/ocm`: never more than the sharer still holds)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ocis_server.auth import authz
from ocis_server.auth.authz import ROLE_EDITOR, ROLE_VIEWER, Access
from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound
from ocis_server.identity import User
from ocis_server.storage import Node, OcmShare, Share

from .federated_sent import FederationPeer
from .rules import SharingContext

_WRITES = roles.CREATE | roles.UPDATE | roles.DELETE
_MAX_DEPTH = 256


@dataclass(frozen=True, slots=True)
class ForeignSignIn:
    """How a request authenticated: the verified token's issuer and user name."""

    issuer: str
    name: str


def address_of(peer: FederationPeer | None, user: User, signin: ForeignSignIn | None) -> str | None:
    """The federated address of a Guest signed in with a token of a listed provider's issuer;
    None for anyone else (local users, Basic, an issuer no provider lists)."""
    if peer is None or signin is None or not user.is_guest or not signin.name:
        return None
    domain = peer.provider_of(signin.issuer)
    if domain is None or domain == peer.domain.lower():
        return None
    name = signin.name.split("@")[0]
    return f"{name}@{domain}" if name else None


async def _covering(ctx: SharingContext, node: Node, address: str) -> list[OcmShare]:
    """The live federated shares with `address` on `node` or an ancestor, nearest first."""
    ids, current = [], node
    for _ in range(_MAX_DEPTH):
        ids.append(current.id)
        if current.parent_id is None:
            break
        current = await ctx.storage.get_node(current.parent_id)
    found = await ctx.storage.list_ocm_shares(node_ids=ids)
    wanted = address.lower()
    now = time.time()
    live = [s for s in found if s.grantee.lower() == wanted and not s.expired(now)]
    return sorted(live, key=lambda s: ids.index(s.node_id))


async def access(ctx: SharingContext, user: User, node: Node, address: str) -> Access:
    """The access the federated shares with `address` give on `node` (the caller `user` is the
    signed-in guest), capped by what each sharer still holds, as share-scoped access. NotFound
    when none covers it."""
    for share in await _covering(ctx, node, address):
        try:
            creator = await ctx.users.get(share.creator_id)
            shared = await ctx.storage.get_node(share.node_id)
            held = await authz.node_access(ctx.storage, ctx.users, creator, shared)
        except NotFound:
            continue
        if held.space.disabled or not creator.enabled:
            continue
        bits = share.permissions & held.permissions & ~roles.SHARE
        if not bits & roles.READ:
            continue
        as_share = Share(id=share.id, node_id=share.node_id, space_id=share.space_id,
                         grantee_type="user", grantee_id=user.id, role_id=share.role_id,
                         permissions=bits, creator_id=share.creator_id, ctime=share.ctime,
                         mtime=share.mtime, expiration=share.expiration)
        return Access(held.space, ROLE_EDITOR if bits & _WRITES else ROLE_VIEWER, bits, as_share)
    raise NotFound("resource not found")
