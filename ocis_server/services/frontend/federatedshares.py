"""OCS federated shares we send (share type 6; reva `handlers/apps/sharing/shares/remote.go`):
create with `shareWith=marie@paris.test` (or reva's `shareWithUser` + `shareWithProvider`),
list, get, change the role or expiry, delete. The rules and the offer to the other server are
the sharing layer's (`sharing/federated_sent.py`); an address at our own OCM_DOMAIN is a local
user, shared with as type 0. The shared secret is never rendered.
"""

from __future__ import annotations

from typing import Any

from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated_sent, rules, shares
from ocis_server.sharing.federated_sent import FederationPeer
from ocis_server.storage import Node, OcmShare

from .publicshares import find_user, mimetype
from .sharerecord import FEDERATED, format_time, int_param, parse_expiry, share_record


def peer_of(ctx: ServiceContext) -> FederationPeer:
    """The way to other OCM servers; 400 when federated sharing is off here."""
    if ctx.ocm is None or not ctx.config.federated_sharing_outgoing:
        raise BadRequest("federated sharing is not enabled on this server (OCIS_ENABLE_OCM, "
                         "FRONTEND_ENABLE_FEDERATED_SHARING_OUTGOING)")
    return ctx.ocm


def address_of(values: dict[str, str]) -> str:
    """`shareWith` (`user@domain`), or reva's `shareWithUser` and `shareWithProvider`."""
    user = values.get("shareWithUser", "").strip()
    provider = values.get("shareWithProvider", "").strip()
    if user and provider:
        return f"{user}@{provider}"
    address = values.get("shareWith", "").strip()
    if not address:
        raise BadRequest("missing shareWith parameters")
    return address


def requested_role(values: dict[str, str], node: Node) -> roles.Role:
    """`role` by name, or the `permissions` bits (read only: Viewer; more: Editor or File
    Editor), among the roles federated users may get."""
    kind = rules.kind(node)
    name = values.get("role", "").strip()
    if name:
        return federated_sent.federated_role(roles.by_name(name), node)
    perms = int_param(values, "permissions")
    bits = roles.share_bits(roles.READ if perms is None else perms, kind)
    if bits & (roles.UPDATE | roles.CREATE | roles.DELETE):
        role = roles.FILE_EDITOR if kind == roles.FILE else roles.EDITOR
    else:
        role = roles.VIEWER
    return federated_sent.federated_role(role, node)


async def create_federated(ctx: ServiceContext, user: User, node: Node,
                           values: dict[str, str]) -> dict[str, Any]:
    """POST shares with shareType=6."""
    peer = peer_of(ctx)
    address = address_of(values)
    access = await rules.access_to(ctx, user, node)
    role = requested_role(values, node)
    expiration = parse_expiry(values.get("expireDate", ""))
    try:
        if federated_sent.is_local(peer, address):
            local = await _local_user(ctx, federated_sent.split_address(address)[0])
            made = await shares.create(ctx, user, node, access, shares.Grant.of(role),
                                       [("user", local.id)], expiration)
            return await share_record(ctx.storage, ctx.users, made.value[0], node)
        created = await federated_sent.create(ctx, user, node, access, role, address, peer,
                                              expiration)
    except AlreadyExists:
        raise PermissionDenied("share already exists") from None
    return await federated_record(ctx, created.value, node)


async def _local_user(ctx: ServiceContext, name: str) -> User:
    try:
        return await ctx.users.get_by_name(name)
    except NotFound:
        raise NotFound(f"user {name!r} not found") from None


async def update_federated(ctx: ServiceContext, user: User, share: OcmShare,
                           values: dict[str, str]) -> dict[str, Any]:
    """PUT shares/{id}: `role` or `permissions`, `expireDate` ("" removes it)."""
    node = await ctx.storage.get_node(share.node_id)
    role = None
    if values.get("role", "").strip() or values.get("permissions", "").strip():
        role = requested_role(values, node)
    expire = values.get("expireDate")
    updated = await federated_sent.update(
        ctx, user, share, ctx.ocm, role=role,
        expiration=parse_expiry(expire) if expire else None,
        clear_expiration=expire is not None and not expire.strip())
    return await federated_record(ctx, updated.value, node)


async def own_federated(ctx: ServiceContext, user: User,
                        node_ids: list[str] | None) -> list[dict[str, Any]]:
    return [await federated_record(ctx, share, await ctx.storage.get_node(share.node_id))
            for share in await federated_sent.managed(ctx, user, node_ids)]


async def federated_record(ctx: ServiceContext, share: OcmShare, node: Node) -> dict[str, Any]:
    """One `ShareData` of a federated share as its sharer sees it (share type 6, `share_with`
    the recipient's federated address)."""
    creator = await find_user(ctx.users, share.creator_id)
    owner = await find_user(ctx.users, node.owner_id)
    path = "/" + "/".join(await ctx.storage.node_path(node))
    space = f"{node.storage_id}${node.space_id}"
    return {
        "id": share.id, "share_type": FEDERATED,
        "uid_owner": creator.username if creator else share.creator_id,
        "displayname_owner": creator.display_name if creator else "",
        "additional_info_owner": creator.email if creator else "",
        "permissions": share.permissions, "stime": int(share.ctime), "parent": "",
        "expiration": format_time(share.expiration), "token": "",
        "uid_file_owner": owner.username if owner else node.owner_id,
        "displayname_file_owner": owner.display_name if owner else "",
        "additional_info_file_owner": owner.email if owner else "",
        "state": 0, "path": path, "item_type": "folder" if node.is_dir else "file",
        "mimetype": mimetype(node), "space_id": space, "storage_id": space, "storage": 0,
        "item_source": node.resource_id, "file_source": node.resource_id,
        "file_parent": node.parent_resource_id or "", "file_target": path,
        "share_with": share.grantee, "share_with_displayname": share.grantee,
        "share_with_additional_info": share.provider, "share_with_user_type": 0,
        "share_with_provider": share.provider, "mail_send": 0, "name": "", "url": "",
        "quicklink": False, "hidden": False,
    }
