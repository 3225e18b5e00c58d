"""The storage changes that publish an event: each wraps its operation (ops, trash, versions) in
the same writer transaction and records the event on the transaction (`Tx.events`); the writer
publishes them once the transaction is committed, never for one that was rolled back (writer.py).
Event names and fields are reva's (`pkg/events`); the executant is the transaction's actor.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocis_server.events import Access, Event

from . import ops, trash, versions
from .api import Node, Space
from .blobs import BlobStore, Digest
from .schema import node_path, walk
from .writer import Tx


def _path(parts: Sequence[str]) -> str:
    return "/" + "/".join(parts)


_COVERING = ("WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM nodes WHERE id = ?"
             " UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id)"
             " SELECT grantee_id, permissions, expiration FROM shares"
             " WHERE node_id IN (SELECT id FROM up)")


def access(tx: Tx, space_id: str, node_id: str) -> Access:
    """Who can reach the node right now, inside the change's transaction: the space's owner,
    state and members, and the shares on the node or above (authz.readers_from reads it)."""
    conn = tx.conn
    row = conn.execute("SELECT type, owner_id, disabled FROM spaces WHERE id = ?",
                       (space_id,)).fetchone()
    members = tuple((str(p), str(r), None if e is None else float(e)) for p, r, e in conn.execute(
        "SELECT m.principal_id, m.role, e.expires FROM members m LEFT JOIN member_expiry e"
        " ON e.space_id = m.space_id AND e.principal_id = m.principal_id WHERE m.space_id = ?",
        (space_id,)))
    shares = tuple((str(g), int(p), None if x is None else float(x))
                   for g, p, x in conn.execute(_COVERING, (node_id,)))
    if row is None:
        return Access("", "", True, (), ())
    return Access(str(row[0]), str(row[1]), bool(row[2]), members, shares)


def _node_event(kind: str, tx: Tx, node: Node, parts: Sequence[str], *, trash_key: str = "",
                old_parent_id: str = "", old_path: str = "",
                seen: tuple[Access, ...] | None = None) -> Event:
    """An event about `node`; `seen`: who could reach it (default: where it is now)."""
    return Event(kind, executant=tx.actor, space_id=f"{node.storage_id}${node.space_id}",
                 item_id=node.resource_id, parent_id=node.parent_resource_id or "",
                 etag=f'"{node.etag}"', path=_path(parts), is_dir=node.is_dir,
                 trash_key=trash_key, old_parent_id=old_parent_id, old_path=old_path,
                 access=(access(tx, node.space_id, node.id),) if seen is None else seen)


def mkdir(tx: Tx, storage_id: str, space_id: str, parts: Sequence[str]) -> Node:
    node = ops.mkdir(tx, storage_id, space_id, parts)
    tx.events.append(_node_event("ContainerCreated", tx, node, parts))
    return node


def commit_upload(tx: Tx, storage_id: str, space_id: str, parts: Sequence[str], blob_id: str,
                  digest: Digest, mtime: float | None, if_match: str | None,
                  if_none_match_any: bool) -> tuple[Node, bool]:
    """FileUploaded; a new empty file is FileTouched (what reva's TouchFile publishes)."""
    node, created = ops.commit_upload(tx, storage_id, space_id, parts, blob_id, digest, mtime,
                                      if_match, if_none_match_any)
    kind = "FileTouched" if created and digest.size == 0 else "FileUploaded"
    tx.events.append(_node_event(kind, tx, node, parts))
    return node, created


def delete(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str,
           parts: Sequence[str]) -> None:
    node = walk(tx.conn, space_id, parts, storage_id)
    seen = (access(tx, space_id, node.id),)          # who could see it until now
    ops.delete(tx, storage_id, blobs, space_id, parts)
    # reva ItemTrashed: the trash key (here the node id) and the parent the item was in.
    tx.events.append(_node_event("ItemTrashed", tx, node, parts, trash_key=node.id, seen=seen))


def move(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str, parts: Sequence[str],
         dst_space_id: str, dst_parts: Sequence[str], overwrite: bool) -> tuple[Node, bool]:
    src = walk(tx.conn, space_id, parts, storage_id)
    before = access(tx, space_id, src.id)            # those who saw it where it was see it go
    node, created = ops.move(tx, storage_id, blobs, space_id, parts, dst_space_id, dst_parts,
                             overwrite)
    tx.events.append(_node_event("ItemMoved", tx, node, dst_parts,
                                 old_parent_id=src.parent_resource_id or "",
                                 old_path=_path(parts),
                                 seen=(access(tx, node.space_id, node.id), before)))
    return node, created


def copy(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str, parts: Sequence[str],
         dst_space_id: str, dst_parts: Sequence[str], overwrite: bool,
         depth_infinity: bool) -> tuple[Node, bool]:
    """A copy is a new item (reva copies by creating it: ContainerCreated or FileUploaded)."""
    node, created = ops.copy(tx, storage_id, blobs, space_id, parts, dst_space_id, dst_parts,
                             overwrite, depth_infinity)
    kind = "ContainerCreated" if node.is_dir else "FileUploaded"
    tx.events.append(_node_event(kind, tx, node, dst_parts))
    return node, created


def restore_trash(tx: Tx, storage_id: str, space_id: str, key: str, dst: Sequence[str] | None,
                  overwrite: bool) -> tuple[Node, bool]:
    node, created = trash.restore(tx, storage_id, space_id, key, dst, overwrite)
    parts = node_path(tx.conn, node.id)
    tx.events.append(_node_event("ItemRestored", tx, node, parts, trash_key=key))
    return node, created


def purge_trash(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str, key: str) -> None:
    trash.purge(tx, blobs, space_id, key)
    tx.events.append(Event("ItemPurged", executant=tx.actor, space_id=f"{storage_id}${space_id}",
                           item_id=f"{storage_id}${space_id}!{key.split('/')[-1]}",
                           trash_key=key))


def empty_trash(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str) -> int:
    keys = [str(r[0]) for r in tx.conn.execute("SELECT key FROM trash WHERE space_id = ?",
                                               (space_id,))]
    count = trash.empty(tx, blobs, space_id)
    tx.events.extend(Event("ItemPurged", executant=tx.actor, space_id=f"{storage_id}${space_id}",
                           item_id=f"{storage_id}${space_id}!{key}", trash_key=key)
                     for key in keys)
    return count


def restore_version(tx: Tx, storage_id: str, node_id: str, key: str) -> Node:
    node = versions.restore(tx, storage_id, node_id, key)
    tx.events.append(_node_event("FileVersionRestored", tx, node, node_path(tx.conn, node.id)))
    return node


def _space_event(kind: str, tx: Tx, space: Space) -> Event:
    return Event(kind, executant=tx.actor, space_id=space.space_id,
                 item_id=f"{space.space_id}!{space.id}", etag=f'"{space.etag}"', path="/",
                 is_dir=True, name=space.name)


def create_space(tx: Tx, storage_id: str, space_id: str, space_type: str, name: str, alias: str,
                 owner_id: str, quota_total: int, description: str) -> Space:
    space = ops.create_space(tx, storage_id, space_id, space_type, name, alias, owner_id,
                             quota_total, description)
    tx.events.append(_space_event("SpaceCreated", tx, space))
    return space


def update_space(tx: Tx, space_id: str, changes: dict[str, object]) -> Space:
    """SpaceRenamed, SpaceDisabled, SpaceEnabled, else SpaceUpdated (description, quota)."""
    before = ops.get_space(tx.conn, space_id)
    space = ops.update_space(tx, space_id, changes)
    kinds = []
    if space.name != before.name:
        kinds.append("SpaceRenamed")
    if space.disabled != before.disabled:
        kinds.append("SpaceDisabled" if space.disabled else "SpaceEnabled")
    if not kinds and changes:
        kinds.append("SpaceUpdated")
    tx.events.extend(_space_event(kind, tx, space) for kind in kinds)
    return space


def delete_space(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str) -> None:
    space = ops.get_space(tx.conn, space_id)
    ops.delete_space(tx, storage_id, blobs, space_id)
    tx.events.append(_space_event("SpaceDeleted", tx, space))

