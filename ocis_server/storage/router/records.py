"""Search, trash, versions, upload sessions, shares and links through a `StorageRouter`.

A record of a node (share, link, federated share, lock, version) lives on the node's provider;
its id starts with that provider's mount id (`<mount>:<space>:<uuid>`), so it is routed without
a lookup. Upload sessions are found by id (cached; fan-out on a miss). Listings across spaces
(received shares, shares or links by creator, a link by token) fan out over the providers that
are up and merge; a provider that is down is left out of them (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from ocis_server.domain.errors import BadGateway
from ocis_server.storage.api import (
    BlobSource,
    Link,
    Node,
    OcmShare,
    ReceivedShare,
    SearchPage,
    Share,
    TrashItem,
    UploadResult,
    UploadSession,
    Version,
)

from .spaces import SpaceRouting

Parts = Sequence[str]


class RecordRouting(SpaceRouting):
    _uploads: dict[str, str]          # upload id -> mount id
    # (user, groups) -> mount id -> the received shares it last gave (a mount point keeps its
    # name while another provider is down)
    _received: dict[tuple[str, tuple[str, ...]], dict[str, list[ReceivedShare]]]

    # --- search -------------------------------------------------------------------------------
    async def search_names(self, space_id: str, base: Parts, pattern: str, *,
                           offset: int = 0, limit: int = 100) -> SearchPage:
        return await self.on_space(space_id, lambda s: s.search_names(
            space_id, base, pattern, offset=offset, limit=limit))

    async def favorites(self, space_id: str, base: Parts, *, user_id: str, offset: int = 0,
                        limit: int | None = None) -> SearchPage:
        return await self.on_space(space_id, lambda s: s.favorites(
            space_id, base, user_id=user_id, offset=offset, limit=limit))

    async def favorite_ids(self, user_id: str, node_ids: Sequence[str]) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for _, part in await self.each(lambda s: s.favorite_ids(user_id, node_ids)):
            found |= part
        return found

    async def set_favorite(self, user_id: str, node_id: str, on: bool) -> None:
        await self.on_node(node_id, lambda s: s.set_favorite(user_id, node_id, on))

    # --- trash --------------------------------------------------------------------------------
    async def list_trash(self, space_id: str) -> list[TrashItem]:
        return await self.on_space(space_id, lambda s: s.list_trash(space_id))

    async def restore_trash(self, space_id: str, key: str, *, dst_path: Parts | None = None,
                            overwrite: bool) -> UploadResult:
        return await self.on_space(space_id, lambda s: s.restore_trash(
            space_id, key, dst_path=dst_path, overwrite=overwrite))

    async def trash_item(self, space_id: str, key: str) -> TrashItem:
        return await self.on_space(space_id, lambda s: s.trash_item(space_id, key))

    async def list_trash_folder(self, space_id: str, key: str) -> list[TrashItem]:
        return await self.on_space(space_id, lambda s: s.list_trash_folder(space_id, key))

    async def purge_trash(self, space_id: str, key: str) -> None:
        await self.on_space(space_id, lambda s: s.purge_trash(space_id, key))

    async def empty_trash(self, space_id: str) -> int:
        return await self.on_space(space_id, lambda s: s.empty_trash(space_id))

    # --- versions -----------------------------------------------------------------------------
    async def list_versions(self, node_id: str) -> list[Version]:
        return await self.on_node(node_id, lambda s: s.list_versions(node_id))

    async def version_blob(self, node_id: str, key: str) -> BlobSource:
        return await self.on_node(node_id, lambda s: s.version_blob(node_id, key))

    async def restore_version(self, node_id: str, key: str) -> Node:
        return await self.on_node(node_id, lambda s: s.restore_version(node_id, key))

    # --- upload sessions ------------------------------------------------------------------------
    async def _mount_of_upload(self, upload_id: str) -> str:
        mount = self._uploads.get(upload_id)
        if mount is None:
            mount, _ = await self.first(lambda s: s.get_upload(upload_id), "the upload")
            self._uploads[upload_id] = mount
        return mount

    def _noted_upload(self, mount: str, session: UploadSession) -> UploadSession:
        if len(self._uploads) > 10_000:
            self._uploads.clear()
        self._uploads[session.id] = mount
        return session

    async def create_upload(self, space_id: str, path: Parts, *, size: int, user_id: str,
                            mtime: float | None = None, checksum: tuple[str, str] | None = None,
                            if_match: str | None = None, expires_in: float) -> UploadSession:
        mount = await self.mount_of_space(space_id)
        return self._noted_upload(mount, await self.on(mount, lambda s: s.create_upload(
            space_id, path, size=size, user_id=user_id, mtime=mtime, checksum=checksum,
            if_match=if_match, expires_in=expires_in)))

    async def get_upload(self, upload_id: str) -> UploadSession:
        mount = await self._mount_of_upload(upload_id)
        return await self.on(mount, lambda s: s.get_upload(upload_id))

    async def append_upload(self, upload_id: str, offset: int, body: AsyncIterator[bytes], *,
                            length: int | None = None,
                            chunk_checksum: tuple[str, str] | None = None
                            ) -> tuple[UploadSession, UploadResult | None]:
        mount = await self._mount_of_upload(upload_id)
        return await self.on(mount, lambda s: s.append_upload(
            upload_id, offset, body, length=length, chunk_checksum=chunk_checksum))

    async def delete_upload(self, upload_id: str) -> None:
        mount = await self._mount_of_upload(upload_id)
        await self.on(mount, lambda s: s.delete_upload(upload_id))
        self._uploads.pop(upload_id, None)

    async def list_uploads(self, expired: bool | None = None) -> list[UploadSession]:
        return [u for _, part in await self.each(lambda s: s.list_uploads(expired)) for u in part]

    async def clean_uploads(self, expired_only: bool = True) -> tuple[int, int]:
        done = await self.each(lambda s: s.clean_uploads(expired_only))
        return sum(c for _, (c, _b) in done), sum(b for _, (_c, b) in done)

    async def _chunk_home(self, user_id: str) -> str:
        """Chunking NG sessions sit on the provider of the user's personal space (where most
        of them end); `finish_chunked_upload` into a space elsewhere answers 502."""
        try:
            return await self.mount_of_space(user_id)
        except Exception:  # noqa: BLE001 - no personal space (a guest, a service): the primary
            return self.primary

    async def create_chunked_upload(self, user_id: str, transfer: str, *, size: int | None = None,
                                    expires_in: float) -> UploadSession:
        mount = await self._chunk_home(user_id)
        return self._noted_upload(mount, await self.on(mount, lambda s: s.create_chunked_upload(
            user_id, transfer, size=size, expires_in=expires_in)))

    async def find_chunked_upload(self, user_id: str, transfer: str) -> UploadSession:
        mount = await self._chunk_home(user_id)
        return self._noted_upload(mount, await self.on(
            mount, lambda s: s.find_chunked_upload(user_id, transfer)))

    async def put_upload_chunk(self, upload_id: str, name: str, body: AsyncIterator[bytes], *,
                               length: int | None = None) -> int:
        mount = await self._mount_of_upload(upload_id)
        return await self.on(mount, lambda s: s.put_upload_chunk(upload_id, name, body,
                                                                 length=length))

    async def upload_chunks(self, upload_id: str) -> list[tuple[str, int, float]]:
        mount = await self._mount_of_upload(upload_id)
        return await self.on(mount, lambda s: s.upload_chunks(upload_id))

    async def finish_chunked_upload(self, upload_id: str, space_id: str, path: Parts, *,
                                    size: int | None = None, mtime: float | None = None,
                                    checksum: tuple[str, str] | None = None,
                                    if_match: str | None = None) -> UploadResult:
        mount = await self._mount_of_upload(upload_id)
        if await self.mount_of_space(space_id) != mount:
            raise BadGateway("cross storage moves are not supported: the chunks were received "
                             "by another storage provider than the target space's")
        result = await self.on(mount, lambda s: s.finish_chunked_upload(
            upload_id, space_id, path, size=size, mtime=mtime, checksum=checksum,
            if_match=if_match))
        self._uploads.pop(upload_id, None)
        return result

    # --- shares ----------------------------------------------------------------------------------
    async def create_share(self, *, node_id: str, grantee_type: str, grantee_id: str,
                           role_id: str, permissions: int, creator_id: str,
                           expiration: float | None = None,
                           initial_state: str = "accepted") -> Share:
        return await self.on_node(node_id, lambda s: s.create_share(
            node_id=node_id, grantee_type=grantee_type, grantee_id=grantee_id, role_id=role_id,
            permissions=permissions, creator_id=creator_id, expiration=expiration,
            initial_state=initial_state))

    async def get_share(self, share_id: str) -> Share:
        return await self.on(self.mount_of_record(share_id), lambda s: s.get_share(share_id))

    async def list_shares(self, *, node_ids: Sequence[str] | None = None,
                          creator_id: str | None = None,
                          space_id: str | None = None) -> list[Share]:
        if space_id is not None:
            return await self.on_space_or(space_id, lambda s: s.list_shares(
                node_ids=node_ids, creator_id=creator_id, space_id=space_id), [])
        parts = await self.each(lambda s: s.list_shares(node_ids=node_ids, creator_id=creator_id))
        return sorted((x for _, part in parts for x in part), key=lambda x: (x.ctime, x.id))

    async def shares_covering(self, node_id: str) -> list[Share]:
        return await self.on_node(node_id, lambda s: s.shares_covering(node_id))

    async def update_share(self, share_id: str, *, role_id: str | None = None,
                           permissions: int | None = None, expiration: float | None = None,
                           clear_expiration: bool = False) -> Share:
        return await self.on(self.mount_of_record(share_id), lambda s: s.update_share(
            share_id, role_id=role_id, permissions=permissions, expiration=expiration,
            clear_expiration=clear_expiration))

    async def delete_share(self, share_id: str) -> None:
        await self.on(self.mount_of_record(share_id), lambda s: s.delete_share(share_id))

    async def _received_all(self, user_id: str, group_ids: Sequence[str]
                            ) -> tuple[list[ReceivedShare], set[str]]:
        """The user's received shares from every provider, mount points made distinct; those
        of a provider that is down are the last ones it gave (their ids in the set)."""
        key = (user_id, tuple(sorted(group_ids)))
        cached = self._received.setdefault(key, {})
        parts = dict(await self.each(lambda s: s.received_shares(user_id, group_ids)))
        cached.update(parts)
        away = {r.share.id for mount, part in cached.items() if mount not in parts for r in part}
        merged = sorted((x for part in cached.values() for x in part),
                        key=lambda x: (x.share.ctime, x.share.id))
        if len(self._received) > 10_000:
            self._received.clear()
        return _distinct_mounts(merged), away

    async def received_shares(self, user_id: str,
                              group_ids: Sequence[str] = ()) -> list[ReceivedShare]:
        named, away = await self._received_all(user_id, group_ids)
        return [r for r in named if r.share.id not in away]

    async def received_away(self, user_id: str, group_ids: Sequence[str] = ()
                            ) -> list[tuple[ReceivedShare, Node | None]]:
        """Received shares held by a provider that is down, as it last gave them, with the
        shared node as this front last read it (None when it never did): the share jail lists
        them as mounts that are unavailable instead of leaving them out (a sync client would
        take a mount that disappears for a removed share)."""
        if not self._down:
            return []
        named, away = await self._received_all(user_id, group_ids)
        return [(r, self._last_nodes.get(r.share.node_id)) for r in named if r.share.id in away]

    async def set_received(self, share_id: str, user_id: str, *, state: str | None = None,
                           hidden: bool | None = None, mount_point: str | None = None) -> None:
        await self.on(self.mount_of_record(share_id), lambda s: s.set_received(
            share_id, user_id, state=state, hidden=hidden, mount_point=mount_point))

    # --- federated shares we sent -----------------------------------------------------------------
    async def create_ocm_share(self, *, node_id: str, grantee: str, provider: str,
                               role_id: str, permissions: int, creator_id: str,
                               expiration: float | None = None) -> OcmShare:
        return await self.on_node(node_id, lambda s: s.create_ocm_share(
            node_id=node_id, grantee=grantee, provider=provider, role_id=role_id,
            permissions=permissions, creator_id=creator_id, expiration=expiration))

    async def get_ocm_share(self, share_id: str) -> OcmShare:
        return await self.on(self.mount_of_record(share_id), lambda s: s.get_ocm_share(share_id))

    async def list_ocm_shares(self, *, node_ids: Sequence[str] | None = None,
                              creator_id: str | None = None,
                              space_id: str | None = None) -> list[OcmShare]:
        if space_id is not None:
            return await self.on_space_or(space_id, lambda s: s.list_ocm_shares(
                node_ids=node_ids, creator_id=creator_id, space_id=space_id), [])
        parts = await self.each(lambda s: s.list_ocm_shares(node_ids=node_ids,
                                                            creator_id=creator_id))
        return sorted((x for _, part in parts for x in part), key=lambda x: (x.ctime, x.id))

    async def update_ocm_share(self, share_id: str, *, role_id: str | None = None,
                               permissions: int | None = None, expiration: float | None = None,
                               clear_expiration: bool = False) -> OcmShare:
        return await self.on(self.mount_of_record(share_id), lambda s: s.update_ocm_share(
            share_id, role_id=role_id, permissions=permissions, expiration=expiration,
            clear_expiration=clear_expiration))

    async def delete_ocm_share(self, share_id: str) -> None:
        await self.on(self.mount_of_record(share_id), lambda s: s.delete_ocm_share(share_id))

    # --- public links --------------------------------------------------------------------------
    async def create_link(self, *, node_id: str, link_type: str, permissions: int,
                          creator_id: str, password_hash: str | None = None,
                          expiration: float | None = None, name: str = "",
                          quicklink: bool = False) -> Link:
        return await self.on_node(node_id, lambda s: s.create_link(
            node_id=node_id, link_type=link_type, permissions=permissions, creator_id=creator_id,
            password_hash=password_hash, expiration=expiration, name=name, quicklink=quicklink))

    async def get_link(self, link_id: str) -> Link:
        return await self.on(self.mount_of_record(link_id), lambda s: s.get_link(link_id))

    async def link_by_token(self, token: str) -> Link:
        return (await self.first(lambda s: s.link_by_token(token), "the link"))[1]

    async def list_links(self, *, node_ids: Sequence[str] | None = None,
                         creator_id: str | None = None,
                         space_id: str | None = None) -> list[Link]:
        if space_id is not None:
            return await self.on_space_or(space_id, lambda s: s.list_links(
                node_ids=node_ids, creator_id=creator_id, space_id=space_id), [])
        parts = await self.each(lambda s: s.list_links(node_ids=node_ids, creator_id=creator_id))
        return sorted((x for _, part in parts for x in part), key=lambda x: (x.ctime, x.id))

    async def update_link(self, link_id: str, *, link_type: str | None = None,
                          permissions: int | None = None, password_hash: str | None = None,
                          clear_password: bool = False, expiration: float | None = None,
                          clear_expiration: bool = False, name: str | None = None,
                          quicklink: bool | None = None) -> Link:
        return await self.on(self.mount_of_record(link_id), lambda s: s.update_link(
            link_id, link_type=link_type, permissions=permissions, password_hash=password_hash,
            clear_password=clear_password, expiration=expiration,
            clear_expiration=clear_expiration, name=name, quicklink=quicklink))

    async def delete_link(self, link_id: str) -> None:
        await self.on(self.mount_of_record(link_id), lambda s: s.delete_link(link_id))


def _distinct_mounts(received: list[ReceivedShare]) -> list[ReceivedShare]:
    """Each provider makes mount points unique among the shares it holds; merged, two of them
    may name the same mount: the later share gets "name (1)", as a single provider does."""
    taken: set[str] = set()
    out = []
    for entry in received:
        mount = entry.mount_point
        if mount in taken:
            n = 1
            while f"{mount} ({n})" in taken:
                n += 1
            mount = f"{mount} ({n})"
            entry = replace(entry, mount_point=mount)
        taken.add(mount)
        out.append(entry)
    return out
