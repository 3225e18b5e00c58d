"""Federated shares our users send (the sharer's side of OCM): Einstein shares /Physics with
`marie@paris.test`. Who may share what with which role follows the same rules as a user share
(`rules`: the share permission, nobody grants more than they hold, no space root); the roles are
the unified roles with the `@Subject.UserType=="Federated"` condition (Viewer, Editor, File
Editor). The share is recorded with a fresh shared secret, then offered to the recipient's
server through a `FederationPeer` (the OCM service's outbound client); if the peer refuses,
nothing stays recorded. `/dav/ocm/<id>` opens a share with its secret (`open_with_secret`),
scoped to the shared tree and role like a public link, and capped by what the sharer still
holds. Role changes and removals notify the peer, best effort: our `/dav/ocm` enforces them
whatever the peer hears (docs/federation.md).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from ocis_server.auth import authz
from ocis_server.auth.authz import ROLE_EDITOR, ROLE_VIEWER, Access
from ocis_server.domain import roles
from ocis_server.domain.errors import (
    BadRequest,
    NotFound,
    OcisError,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.identity import User
from ocis_server.storage import Node, OcmShare

from . import contacts
from .events import Changed, Event, EventKind, publishes
from .rules import (
    SharingContext,
    access_to,
    kind,
    managed_by,
    manages_node,
    require_future,
    require_grantable,
    require_share_permission,
)
from .shares import require_shareable

log = logging.getLogger(__name__)
DAV_OCM = "/dav/ocm"           # the WebDAV root of federated shares (discovery `webdav`)
_WRITES = roles.UPDATE | roles.CREATE | roles.DELETE
_MAX_ADDRESS = 320


@dataclass(frozen=True, slots=True)
class Offer:
    """What the recipient's server is told about a share (OCM `NewShare`, protocol `webdav`)."""

    share_with: str               # `marie@paris.test`
    name: str
    provider_id: str              # our share id
    owner: str                    # `einstein@zurich.test`
    sender: str
    owner_display_name: str
    sender_display_name: str
    resource_type: str            # file | folder
    permissions: tuple[str, ...]  # OCM webdav permissions: read, write
    secret: str
    uri: str                      # absolute: `<OCIS_URL>/dav/ocm/<id>`
    expiration: float | None


class FederationPeer(Protocol):
    """How the sharing layer reaches other OCM servers (services/ocm/outgoing.py `OcmPeer`)."""

    @property
    def domain(self) -> str: ...          # OCM_DOMAIN: the part after `@` of our users

    @property
    def public_url(self) -> str: ...      # OCIS_URL without a trailing slash

    def check_listed(self, domain: str) -> None: ...
        # BadRequest naming the providers file when `domain` is not a trusted provider

    def provider_of(self, url: str) -> str | None: ...
        # the domain of the listed provider whose origins include `url`'s (an issuer URL)

    def storage_provider_of(self, url: str) -> str: ...
        # the listed provider a WebDAV URL of another server lies on (BadRequest if none, or
        # plain http without OCM_OCM_STORAGE_PROVIDER_INSECURE to a loopback address)

    async def send_share(self, offer: Offer) -> str: ...   # the recipient's display name or ""

    async def send_permissions(self, offer: Offer) -> None: ...

    async def send_unshared(self, share: OcmShare, resource_type: str) -> None: ...


def split_address(address: str) -> tuple[str, str]:
    """(user, domain) of a federated address `user@domain`; BadRequest for anything else."""
    text = address.strip()
    user, at, domain = text.rpartition("@")
    if not at or not user or not domain or len(text) > _MAX_ADDRESS \
            or any(c.isspace() or not c.isprintable() or c in "/\\" for c in text):
        raise BadRequest(f"{address[:80]!r} is not a federated address (user@domain)")
    return user, domain.lower().rstrip(".")


def is_local(peer: FederationPeer | None, address: str) -> bool:
    """An address at our own OCM_DOMAIN names a local user (`marie@zurich.test` on zurich)."""
    return peer is not None and split_address(address)[1] == peer.domain.lower()


def federated_role(role: roles.Role, node: Node) -> roles.Role:
    """The role, if it may be granted to a federated user on this kind of resource."""
    roles.require_applicable(role, kind(node))
    if not role.federated:
        raise BadRequest("role not applicable to federated users (viewer, editor, file-editor)")
    return role


def ocm_permissions(bits: int) -> tuple[str, ...]:
    """OCS bits as OCM webdav permissions (resharing across servers is never offered)."""
    return (("read",) if bits & roles.READ else ()) + (("write",) if bits & _WRITES else ())


def dav_uri(peer: FederationPeer, share_id: str) -> str:
    return f"{peer.public_url}{DAV_OCM}/{quote(share_id, safe=':')}"


async def _offer(ctx: SharingContext, peer: FederationPeer, share: OcmShare, node: Node) -> Offer:
    try:
        owner_user = await ctx.users.get(node.owner_id) if node.owner_id else None
    except NotFound:
        owner_user = None
    creator = await ctx.users.get(share.creator_id)
    owner_user = owner_user or creator
    return Offer(
        share_with=share.grantee, name=node.name, provider_id=share.id,
        owner=f"{owner_user.username}@{peer.domain}", sender=f"{creator.username}@{peer.domain}",
        owner_display_name=owner_user.display_name or owner_user.username,
        sender_display_name=creator.display_name or creator.username,
        resource_type="folder" if node.is_dir else "file",
        permissions=ocm_permissions(share.permissions), secret=share.secret,
        uri=dav_uri(peer, share.id), expiration=share.expiration)


def _event(kind: EventKind, user: User, share: OcmShare) -> Event:
    return Event(kind, user.id, share.space_id, share.node_id, share.id)


@publishes
async def create(ctx: SharingContext, user: User, node: Node, access: Access, role: roles.Role,
                 address: str, peer: FederationPeer,
                 expiration: float | None = None) -> Changed[OcmShare]:
    """Share `node` with the federated `address` (at another server) in `role`, and offer it to
    that server. 400 for a space root, a role federated users cannot get, an unlisted domain
    (naming the providers file) or an expiry in the past; 403 without the share permission or
    for more than the sharer holds, or (OCM_REQUIRE_INVITE) for an address that is not one of the
    sharer's federated contacts; AlreadyExists when the address has a share on the item;
    the peer's refusal (PeerError) as it comes, with nothing recorded."""
    require_shareable(node)
    require_share_permission(access)
    federated_role(role, node)
    require_grantable(access, role.bits)
    require_future(expiration)
    user_part, domain = split_address(address)
    if domain == peer.domain.lower():
        raise BadRequest("a federated share goes to another server: share with the local user")
    peer.check_listed(domain)
    await contacts.require_contact(ctx, user, f"{user_part}@{domain}")
    share = await ctx.storage.create_ocm_share(
        node_id=node.id, grantee=f"{user_part}@{domain}", provider=domain, role_id=role.id,
        permissions=role.bits, creator_id=user.id, expiration=expiration)
    try:
        await peer.send_share(await _offer(ctx, peer, share, node))
    except BaseException:
        await ctx.storage.delete_ocm_share(share.id)     # the peer refused: nothing stays
        raise
    return Changed(share, (_event("ShareCreated", user, share),))


async def visible(ctx: SharingContext, user: User, share_id: str) -> OcmShare | None:
    """The federated share with this id if the caller manages it; None when the id names none;
    NotFound when the caller may not see it."""
    try:
        share = await ctx.storage.get_ocm_share(share_id)
    except NotFound:
        return None
    if not await manages_node(ctx, user, share.creator_id, share.node_id):
        raise NotFound("share not found")
    return share


async def managed(ctx: SharingContext, user: User,
                  node_ids: Sequence[str] | None = None) -> list[OcmShare]:
    """The federated shares the caller manages (`rules.managed_by`)."""
    return await managed_by(ctx, user, ctx.storage.list_ocm_shares, node_ids)


@publishes
async def update(ctx: SharingContext, user: User, share: OcmShare, peer: FederationPeer | None,
                 *, role: roles.Role | None = None, expiration: float | None = None,
                 clear_expiration: bool = False) -> Changed[OcmShare]:
    """A new role and/or expiry by whoever manages the share; the peer is told the new
    permissions (best effort: `/dav/ocm` enforces the change whatever it hears)."""
    await require_manager_of(ctx, user, share)
    if role is None and expiration is None and not clear_expiration:
        raise BadRequest("Wrong or no update parameter given")
    node = await ctx.storage.get_node(share.node_id)
    if role is not None:
        federated_role(role, node)
        require_grantable(await access_to(ctx, user, node), role.bits)
    require_future(expiration)
    updated = await ctx.storage.update_ocm_share(
        share.id, role_id=None if role is None else role.id,
        permissions=None if role is None else role.bits, expiration=expiration,
        clear_expiration=clear_expiration)
    if peer is not None:
        try:
            await peer.send_permissions(await _offer(ctx, peer, updated, node))
        except OcisError as exc:
            log.warning("share %s changed, but %s was not told: %s", share.id, share.provider,
                        exc.message)
    return Changed(updated, (_event("ShareUpdated", user, updated),))


@publishes
async def delete(ctx: SharingContext, user: User, share: OcmShare,
                 peer: FederationPeer | None) -> Changed[None]:
    """Remove the share (its secret stops working at once) and tell the peer, best effort."""
    await require_manager_of(ctx, user, share)
    await ctx.storage.delete_ocm_share(share.id)
    if peer is not None:
        try:
            node = await ctx.storage.get_node(share.node_id)
            await peer.send_unshared(share, "folder" if node.is_dir else "file")
        except OcisError as exc:
            log.warning("share %s removed, but %s was not told: %s", share.id, share.provider,
                        exc.message)
    return Changed(None, (_event("ShareRemoved", user, share),))


async def require_manager_of(ctx: SharingContext, user: User, share: OcmShare) -> None:
    """The same rule as for a user share: its creator, or whoever manages the item."""
    if not await manages_node(ctx, user, share.creator_id, share.node_id):
        raise PermissionDenied("only the sharer may change a share")


@dataclass(frozen=True, slots=True)
class Opened:
    """A federated share opened with its secret: what `/dav/ocm/<id>` serves and as whom."""

    share: OcmShare
    node: Node
    access: Access                 # the share's bits, capped by what the sharer still holds
    creator: User                  # the request acts for the sharer (like a public link)


async def open_with_secret(ctx: SharingContext, share_id: str, secret: str) -> Opened:
    """NotFound for an unknown, removed or expired share, or one whose sharer lost the item;
    Unauthenticated for a secret that is not this share's (another share's, an old one)."""
    try:
        share = await ctx.storage.get_ocm_share(share_id)
    except NotFound:
        raise NotFound("share not found") from None
    if not hmac.compare_digest(share.secret.encode(), secret.encode()):
        raise Unauthenticated("wrong shared secret for this share")
    if share.expired():
        raise NotFound("share not found")
    try:
        node = await ctx.storage.get_node(share.node_id)
        creator = await ctx.users.get(share.creator_id)
        held = await authz.node_access(ctx.storage, ctx.users, creator, node)
    except NotFound:
        raise NotFound("share not found") from None
    if held.space.disabled or not creator.enabled:
        raise NotFound("share not found")
    bits = share.permissions & held.permissions & ~roles.SHARE
    if not bits & roles.READ:
        raise NotFound("share not found")
    access = Access(held.space, ROLE_EDITOR if bits & _WRITES else ROLE_VIEWER, bits)
    return Opened(share, node, access, creator)
