"""Spaces and their trees through a `StorageRouter`: each call goes to the provider that owns the
space or node; listings of spaces fan out and merge. A space whose provider is down is listed from
the registry's snapshot with `Space.unavailable` set (to its owner and members in
`list_spaces(member_id=)`, to everyone in the full listing): Graph marks such a drive, see docs/scaling.md."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from ocis_server.domain.errors import BadGateway, NotFound, PreconditionFailed
from ocis_server.storage.api import (
    BlobSource,
    LockRecord,
    Node,
    RemoteBlob,
    Space,
    Storage,
    UploadResult,
)

from .core import RouterCore

Parts = Sequence[str]
_COPY_CHUNK = 1024 * 1024


class SpaceRouting(RouterCore):
    @property
    def change_stamp(self) -> object:
        return tuple(p.change_stamp for p in self._providers.values())

    async def used_bytes(self) -> int:
        return sum(used for _, used in await self.each(lambda s: s.used_bytes()))

    async def place(self, space_type: str) -> str:
        """The mount id a new space of this type goes to: the pinned one, else the provider
        (up) with the fewest bytes used; on a tie the one with fewer spaces, then the earlier
        one in the list (so empty new spaces alternate)."""
        pinned = self.placement.pinned.get(space_type)
        if pinned is not None:
            self.provider(pinned)          # 503 while it is down: never placed elsewhere
            return pinned
        used = dict(await self.each(lambda s: s.used_bytes()))
        if not used:
            raise self._unavailable(", ".join(self._providers))
        order = list(self._providers)
        return min(used, key=lambda m: (used[m], len(self.snapshots(m)), order.index(m)))

    # --- spaces -----------------------------------------------------------------------------
    async def create_space(self, *, space_type: str, name: str, owner_id: str, alias: str,
                           space_id: str | None = None, quota_total: int = 0,
                           description: str = "") -> Space:
        mount = await self.place(space_type)
        space = await self.on(mount, lambda s: s.create_space(
            space_type=space_type, name=name, owner_id=owner_id, alias=alias, space_id=space_id,
            quota_total=quota_total, description=description))
        await self.register(self.entry_of(space))
        return space

    async def get_space(self, space_id: str) -> Space:
        return await self.on_space(space_id, lambda s: s.get_space(space_id))

    async def space_info(self, space_id: str) -> Space:
        return await self.on_space(space_id, lambda s: s.space_info(space_id))

    async def list_spaces(self, *, member_id: str | None = None) -> list[Space]:
        listed = await self.each(lambda s: s.list_spaces(member_id=member_id))
        spaces = [space for _, part in listed for space in part]
        await self.record_listed([self.entry_of(s) for s in spaces])
        up = {mount for mount, _ in listed}
        if len(up) < len(self._providers):
            # the registry itself (another front may have made spaces there): owners and
            # the members of project spaces (direct ones: a group's members through the group)
            await self.reload_registry()
            spaces += [e.snapshot() for e in self._snapshots.values()
                       if e.mount_id not in up and e.mount_id in self._providers
                       and (member_id is None or e.lists_for(member_id))]
        return spaces

    async def update_space(self, space_id: str, *, name: str | None = None,
                           description: str | None = None, quota_total: int | None = None,
                           alias: str | None = None, disabled: bool | None = None) -> Space:
        space = await self.on_space(space_id, lambda s: s.update_space(
            space_id, name=name, description=description, quota_total=quota_total, alias=alias,
            disabled=disabled))
        await self.register(self.entry_of(space))
        return space

    async def delete_space(self, space_id: str) -> None:
        await self.on_space(space_id, lambda s: s.delete_space(space_id))
        await self.unregister(space_id)

    async def set_member(self, space_id: str, principal_id: str, role: str | None, *,
                         keep_manager: bool = False, expires: float | None = None) -> None:
        mount = await self.mount_of_space(space_id)
        await self.on(mount, lambda s: s.set_member(
            space_id, principal_id, role, keep_manager=keep_manager, expires=expires))
        # the registry's snapshot keeps the members (listed to them while the provider is away)
        space, members = await self.on(mount, lambda s: _space_and_members(s, space_id))
        await self.register(self.entry_of(space, " ".join(sorted(members))))

    async def members(self, space_id: str) -> dict[str, str]:
        return await self.on_space(space_id, lambda s: s.members(space_id))

    async def member_expirations(self, space_id: str) -> dict[str, float]:
        return await self.on_space(space_id, lambda s: s.member_expirations(space_id))

    # --- tree -------------------------------------------------------------------------------
    async def lookup(self, space_id: str, path: Parts) -> Node:
        return self.noted(await self.on_space(space_id, lambda s: s.lookup(space_id, path)))

    async def get_node(self, node_id: str) -> Node:
        node = await self.on_node(node_id, lambda s: s.get_node(node_id))
        if len(self._last_nodes) >= 10_000:
            self._last_nodes.clear()
        self._last_nodes[node_id] = node      # what a share jail shows while its provider is away
        return node

    async def node_path(self, node: Node) -> tuple[str, ...]:
        return await self.on(self.mount_of(node), lambda s: s.node_path(node))

    async def children(self, node: Node) -> list[Node]:
        return await self.on(self.mount_of(node), lambda s: s.children(node))

    async def children_page(self, node: Node, after: str | None, limit: int) -> list[Node]:
        return await self.on(self.mount_of(node), lambda s: s.children_page(node, after, limit))

    async def count_below(self, node: Node, limit: int) -> int:
        return await self.on(self.mount_of(node), lambda s: s.count_below(node, limit))

    async def mkdir(self, space_id: str, path: Parts) -> Node:
        return self.noted(await self.on_space(space_id, lambda s: s.mkdir(space_id, path)))

    async def upload(self, space_id: str, path: Parts, body: AsyncIterator[bytes], *,
                     length: int | None = None, mtime: float | None = None,
                     if_match: str | None = None, if_none_match_any: bool = False,
                     checksum: tuple[str, str] | None = None) -> UploadResult:
        return await self.on_space(space_id, lambda s: s.upload(
            space_id, path, body, length=length, mtime=mtime, if_match=if_match,
            if_none_match_any=if_none_match_any, checksum=checksum))

    def blob(self, node: Node) -> BlobSource:
        return self.provider(self.mount_of(node)).blob(node)

    async def read_small(self, node: Node) -> bytes:
        return await self.on(self.mount_of(node), lambda s: s.read_small(node))

    async def delete(self, space_id: str, path: Parts) -> None:
        await self.on_space(space_id, lambda s: s.delete(space_id, path))

    async def move(self, space_id: str, path: Parts, dst_space_id: str, dst_path: Parts, *,
                   overwrite: bool) -> UploadResult:
        mount = await self.mount_of_space(space_id)
        if await self.mount_of_space(dst_space_id) != mount:
            # as reva's ocdav answers a move between storage providers
            raise BadGateway("cross storage moves are not supported")
        return await self.on(mount, lambda s: s.move(space_id, path, dst_space_id, dst_path,
                                                     overwrite=overwrite))

    async def copy(self, space_id: str, path: Parts, dst_space_id: str, dst_path: Parts, *,
                   overwrite: bool, depth_infinity: bool = True) -> UploadResult:
        mount = await self.mount_of_space(space_id)
        dst_mount = await self.mount_of_space(dst_space_id)
        if dst_mount == mount:
            return await self.on(mount, lambda s: s.copy(
                space_id, path, dst_space_id, dst_path, overwrite=overwrite,
                depth_infinity=depth_infinity))
        return await self._copy_across(mount, space_id, path, dst_mount, dst_space_id,
                                       tuple(dst_path), overwrite=overwrite,
                                       depth_infinity=depth_infinity)

    async def _copy_across(self, mount: str, space_id: str, path: Parts, dst_mount: str,
                           dst_space_id: str, dst_path: tuple[str, ...], *, overwrite: bool,
                           depth_infinity: bool) -> UploadResult:
        """COPY between providers: the tree is made anew on the destination provider, file
        contents streamed from the source provider's blobs (checksums computed anew)."""
        source = await self.on(mount, lambda s: s.lookup(space_id, path))
        target = self.provider(dst_mount)
        created = True
        try:
            await self.on(dst_mount, lambda s: s.lookup(dst_space_id, dst_path))
            if not overwrite:
                raise PreconditionFailed("the destination exists")
            await self.on(dst_mount, lambda s: s.delete(dst_space_id, dst_path))
            created = False
        except NotFound:
            pass
        node = await self._copy_node(self.provider(mount), source, target, dst_space_id,
                                     dst_path, depth_infinity=depth_infinity)
        return UploadResult(node=node, created=created)

    async def _copy_node(self, src: Storage, node: Node, dst: Storage, dst_space_id: str,
                         dst_path: tuple[str, ...], *, depth_infinity: bool) -> Node:
        if not node.is_dir:
            blob = src.blob(node)
            body = _read_file(blob) if isinstance(blob, Path) else _read_remote(blob)
            return (await dst.upload(dst_space_id, dst_path, body,
                                     length=node.size, mtime=node.mtime)).node
        made = await dst.mkdir(dst_space_id, dst_path)
        if depth_infinity:
            for child in await src.children(node):
                await self._copy_node(src, child, dst, dst_space_id, (*dst_path, child.name),
                                      depth_infinity=True)
        return made

    async def set_mtime(self, node_id: str, mtime: float) -> Node:
        return await self.on_node(node_id, lambda s: s.set_mtime(node_id, mtime))

    # --- dead properties --------------------------------------------------------------------
    async def get_props(self, node_id: str) -> dict[str, str]:
        return await self.on_node(node_id, lambda s: s.get_props(node_id))

    async def get_props_many(self, node_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        merged: dict[str, dict[str, str]] = {}
        for _, part in await self.each(lambda s: s.get_props_many(node_ids)):
            merged.update(part)
        return merged

    async def patch_props(self, node_id: str, set_props: dict[str, str],
                          remove: Sequence[str]) -> Node:
        return await self.on_node(node_id, lambda s: s.patch_props(node_id, set_props, remove))

    # --- locks --------------------------------------------------------------------------------
    async def locks_covering(self, space_id: str, path: Parts) -> list[LockRecord]:
        return await self.on_space_or(space_id, lambda s: s.locks_covering(space_id, path), [])

    async def locks_below(self, space_id: str, path: Parts) -> list[LockRecord]:
        return await self.on_space_or(space_id, lambda s: s.locks_below(space_id, path), [])

    async def get_lock(self, token: str) -> LockRecord:
        return (await self.first(lambda s: s.get_lock(token), "the lock"))[1]

    async def put_lock(self, lock: LockRecord) -> None:
        await self.on_space(lock.space_id, lambda s: s.put_lock(lock))

    async def remove_lock(self, token: str) -> None:
        mount, _ = await self.first(lambda s: s.get_lock(token), "the lock")
        await self.on(mount, lambda s: s.remove_lock(token))


async def _space_and_members(storage: Storage, space_id: str) -> tuple[Space, dict[str, str]]:
    return await storage.space_info(space_id), await storage.members(space_id)


async def _read_remote(blob: RemoteBlob) -> AsyncIterator[bytes]:
    """The bytes of a blob of a provider in another process (storage/remote)."""
    body = await blob.read()
    try:
        async for chunk in body.chunks:
            yield chunk
    finally:
        body.release()


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, _COPY_CHUNK):
            yield chunk
    finally:
        handle.close()
