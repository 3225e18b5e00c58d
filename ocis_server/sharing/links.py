"""Public links: who may create one on what and of which type, the password policy
(OCIS_SHARING_PUBLIC_SHARE_MUST_HAVE_PASSWORD, ..._WRITEABLE_SHARE_MUST_HAVE_PASSWORD), one quick
link per resource, and who manages a link afterwards (reva `handlers/apps/sharing/shares/public.go`,
oCIS `services/graph/pkg/service/v0/links.go`). What a link grants is `auth.publiclink`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocis_server.auth import publiclink
from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.storage import Link, Node

from .events import Changed, Event, EventKind, publishes
from .rules import (
    SharingContext,
    access_to,
    managed_by,
    manages,
    manages_node,
    require_future,
    require_share_permission,
)

MAX_NAME = 255
MAX_PASSWORD = 1024
_WRITES = roles.UPDATE | roles.CREATE | roles.DELETE


def _event(kind: EventKind, user: User, link: Link) -> Event:
    return Event(kind, user.id, link.space_id, link.node_id, link.id)


def require_password(ctx: SharingContext, bits: int, has_password: bool) -> None:
    """A link that must have a password by policy and has none: 400 "missing required password"
    (an internal link grants nothing and never needs one)."""
    if has_password or bits == 0:
        return
    cfg = ctx.config
    if cfg.public_share_must_have_password or (
            bits & _WRITES and cfg.public_writeable_share_must_have_password):
        raise BadRequest("missing required password")


def check_password(password: str) -> str:
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise BadRequest("password must be a string")
    return password


def require_no_internal_password(link_type: str, has_password: bool) -> None:
    """An internal link grants nothing by itself: a password on it is refused (oCIS Graph
    `links.go`: 400 "password is redundant for the internal link")."""
    if link_type == "internal" and has_password:
        raise BadRequest("password is redundant for the internal link")


def check_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME:
        raise BadRequest("displayName is too long")
    return name


def type_bits(link_type: str, node: Node, access: Access) -> int:
    """The OCS bits of a link type on this node, which the caller must hold themselves."""
    if link_type in roles.LINK_FOLDER_ONLY and not node.is_dir:
        raise BadRequest(f"a link of type {link_type} needs a folder")
    bits = roles.link_bits(link_type, is_dir=node.is_dir)
    if bits & ~access.permissions:
        raise PermissionDenied("insufficient permissions to create that kind of link")
    return bits


async def _hash(password: str) -> str | None:
    return await publiclink.hash_link_password(password) if password else None


@publishes
async def create(ctx: SharingContext, user: User, node: Node, access: Access, *,
                 link_type: str = "view", password: str = "", expiration: float | None = None,
                 name: str = "", quicklink: bool = False) -> Changed[Link]:
    """A new link (a personal space's root is never linked: 400). Asking for a quick link when
    the item has one returns that one, unchanged (oCIS: one quick link per resource)."""
    if node.parent_id is None and access.space.type == "personal":
        raise BadRequest("Can not share space root")
    require_share_permission(access)
    if quicklink:
        for existing in await ctx.storage.list_links(node_ids=[node.id]):
            if existing.quicklink:
                return Changed(existing, ())
    bits = type_bits(link_type, node, access)
    require_no_internal_password(link_type, bool(password))
    require_password(ctx, bits, bool(check_password(password)))
    link = await ctx.storage.create_link(
        node_id=node.id, link_type=link_type, permissions=bits, creator_id=user.id,
        password_hash=await _hash(password), expiration=require_future(expiration),
        name=check_name(name), quicklink=quicklink)
    return Changed(link, (_event("LinkCreated", user, link),))


@publishes
async def update(ctx: SharingContext, user: User, link: Link, *, link_type: str | None = None,
                 password: str | None = None, name: str | None = None,
                 expiration: float | None = None, clear_expiration: bool = False,
                 quicklink: bool | None = None) -> Changed[Link]:
    """Change what is given (`password=""` removes it, where the policy allows); 400 if nothing."""
    if all(value is None for value in (link_type, password, name, expiration, quicklink)) \
            and not clear_expiration:
        raise BadRequest("Wrong or no update parameter given")
    node = await ctx.storage.get_node(link.node_id)
    bits = None
    if link_type is not None:
        bits = type_bits(link_type, node, await access_to(ctx, user, node))
    has_password = link.password_hash is not None if password is None else bool(password)
    require_no_internal_password(link_type or link.link_type, has_password)
    require_password(ctx, link.permissions if bits is None else bits, has_password)
    updated = await ctx.storage.update_link(
        link.id, link_type=link_type, permissions=bits,
        password_hash=await _hash(check_password(password)) if password else None,
        clear_password=password == "", name=None if name is None else check_name(name),
        expiration=require_future(expiration), clear_expiration=clear_expiration,
        quicklink=quicklink)
    return Changed(updated, (_event("LinkUpdated", user, updated),))


@publishes
async def delete(ctx: SharingContext, user: User, link: Link) -> Changed[None]:
    await ctx.storage.delete_link(link.id)
    return Changed(None, (_event("LinkRemoved", user, link),))


async def managed(ctx: SharingContext, user: User, link_id: str) -> Link | None:
    """The link with this id if the caller manages it; None when the id names no link;
    NotFound when the caller may not see it."""
    try:
        link = await ctx.storage.get_link(link_id)
    except NotFound:
        return None
    if not await manages_node(ctx, user, link.creator_id, link.node_id):
        raise NotFound("share not found")
    return link


async def managed_on(ctx: SharingContext, user: User, node: Node, access: Access,
                     link_id: str) -> Link | None:
    """`managed` for a link of a given node (None: no such link there); 403 for a link there
    the caller may not change."""
    try:
        link = await ctx.storage.get_link(link_id)
    except NotFound:
        return None
    if link.node_id != node.id:
        return None
    if not manages(access, user, link.creator_id):
        raise PermissionDenied("you may not change this link")
    return link


async def of_nodes(ctx: SharingContext, user: User,
                   node_ids: Sequence[str] | None = None) -> list[Link]:
    """The links the caller manages (`rules.managed_by`)."""
    return await managed_by(ctx, user, ctx.storage.list_links, node_ids)


async def on_node(ctx: SharingContext, node: Node, access: Access) -> list[Link]:
    """The links of one item, for who may share it (else none)."""
    if not access.permissions & roles.SHARE:
        return []
    return await ctx.storage.list_links(node_ids=[node.id])
