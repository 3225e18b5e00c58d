"""The share jail (protocol-notes.md §4, §11): the virtual space `<jail>$<jail>` whose children are the
caller's accepted shares, each a mount point `<jail>$<jail>!<shareid>` reaching the shared node
with the share's permissions. Listing the jail root is answered here; a mount point resolves to
the shared node's space and path (namespaces.resolve).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from ocis_server.auth import authz
from ocis_server.domain.errors import NotFound, ServiceUnavailable
from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.identity import User, UserStore
from ocis_server.sharing import federated
from ocis_server.storage import Node, Space, Storage

log = logging.getLogger("ocis.ocdav")

JAIL_SPACE = f"{SHARE_JAIL_ID}${SHARE_JAIL_ID}"


@dataclass(frozen=True, slots=True)
class JailListing:
    """The jail root and its mount points as nodes (ids are share ids, so `oc:fileid` renders
    as `<jail>$<jail>!<shareid>`), with each mount's permissions."""

    root: Node
    entries: list[tuple[Node, tuple[str, ...]]]
    perms: dict[str, tuple[str, str]] = field(default_factory=dict)   # node id -> (letters, ocs bits)
    share_ids: dict[str, str] = field(default_factory=dict)           # node id -> share id
    away: set[str] = field(default_factory=set)   # share ids whose storage provider is down


def jail_space(user: User, etag: str, mtime: float, used: int) -> Space:
    return Space(id=SHARE_JAIL_ID, storage_id=SHARE_JAIL_ID, type="virtual", name="Shares",
                 alias="virtual/shares", owner_id=user.id, quota_total=0, used=used,
                 description="", etag=etag, mtime=mtime)


async def jail_listing(storage: Storage, users: UserStore, user: User) -> tuple[Space, JailListing]:
    """The accepted, unexpired shares of the caller as mount points (a hidden share is only
    hidden from share listings; it stays mounted, as in oCIS's share jail)."""
    gids = await authz.group_ids(users, user)
    entries: list[tuple[Node, tuple[str, ...]]] = []
    perms: dict[str, tuple[str, str]] = {}
    share_ids: dict[str, str] = {}
    for received in await storage.received_shares(user.id, gids):
        share = received.share
        if received.state != "accepted" or share.expired():
            continue
        try:
            access = await authz.received_access(storage, received)
            node = await storage.get_node(share.node_id)
        except NotFound:
            continue
        mount = Node(id=share.id, space_id=SHARE_JAIL_ID, storage_id=SHARE_JAIL_ID,
                     parent_id=SHARE_JAIL_ID, name=received.mount_point, is_dir=node.is_dir,
                     size=node.size, mtime=node.mtime, etag=node.etag,
                     checksums=dict(node.checksums), blob_id=None, owner_id=node.owner_id)
        entries.append((mount, (received.mount_point,)))
        perms[share.id] = (access.webdav_permissions(is_dir=node.is_dir, mounted=True),
                           str(access.grantable(is_dir=node.is_dir)))
        share_ids[share.id] = share.id
    away = await _mounts_away(storage, user, gids, entries, perms, share_ids)
    await _remote_mounts(storage, user, entries, perms, share_ids)
    # The jail's etag changes whenever any mount point's does (clients poll it).
    digest = hashlib.md5(usedforsecurity=False)
    for mount, _ in entries:
        digest.update(f"{mount.id}:{mount.etag};".encode())
    mtime = max((mount.mtime for mount, _ in entries), default=0.0)
    used = sum(mount.size for mount, _ in entries)
    root = Node(id=SHARE_JAIL_ID, space_id=SHARE_JAIL_ID, storage_id=SHARE_JAIL_ID,
                parent_id=None, name="", is_dir=True, size=used, mtime=mtime,
                etag=digest.hexdigest(), owner_id=user.id)
    return (jail_space(user, root.etag, mtime, used),
            JailListing(root, entries, perms, share_ids, away))


async def _mounts_away(storage: Storage, user: User, gids: list[str],
                       entries: list[tuple[Node, tuple[str, ...]]],
                       perms: dict[str, tuple[str, str]], share_ids: dict[str, str]) -> set[str]:
    """Several storage providers (storage/router): the accepted shares of a provider that is
    down stay listed as they last were, with no permissions (requests into them answer 503
    with Retry-After), so that a sync client does not take them for removed shares."""
    received_away = getattr(storage, "received_away", None)
    away: set[str] = set()
    if received_away is None:
        return away
    for received, node in await received_away(user.id, gids):
        share = received.share
        if received.state != "accepted" or share.expired():
            continue
        mount = Node(id=share.id, space_id=SHARE_JAIL_ID, storage_id=SHARE_JAIL_ID,
                     parent_id=SHARE_JAIL_ID, name=received.mount_point,
                     is_dir=node.is_dir if node else True, size=node.size if node else 0,
                     mtime=node.mtime if node else share.mtime,
                     etag=node.etag if node else f"away-{share.id}",
                     owner_id=node.owner_id if node else share.creator_id)
        entries.append((mount, (received.mount_point,)))
        perms[share.id] = ("", "0")
        share_ids[share.id] = share.id
        away.add(share.id)
    return away


async def _remote_mounts(storage: Storage, user: User, entries: list[tuple[Node, tuple[str, ...]]],
                         perms: dict[str, tuple[str, str]], share_ids: dict[str, str]) -> None:
    """The caller's remote spaces (accepted federated shares) as mount points too, under a
    name no local mount has; their content is forwarded to the sharer (remotespaces.py). The
    ETag is the last one the sharer gave (unknown: one of the share's own), so the listing
    answers whether or not the sharer does."""
    taken = {path[0] for _, path in entries}
    try:
        received = await storage.remote_shares(user.id)
    except ServiceUnavailable as exc:    # the provider of the per-user records is away: the
        log.warning("share jail without the federated shares: %s", exc)   # local ones stay
        return
    for share in received:
        if share.state != "accepted" or share.expired() or share.name in taken:
            continue
        etag = federated.last_etag(share.id).strip('"') or f"ocm-{share.id[4:]}"
        mount = Node(id=share.id, space_id=SHARE_JAIL_ID, storage_id=SHARE_JAIL_ID,
                     parent_id=SHARE_JAIL_ID, name=share.name,
                     is_dir=share.resource_type != "file", size=0, mtime=share.ctime, etag=etag,
                     owner_id=share.owner)
        entries.append((mount, (share.name,)))
        perms[share.id] = (federated.webdav_permissions(share),
                           str(federated.permission_bits(share)))
        share_ids[share.id] = share.id
        taken.add(share.name)
