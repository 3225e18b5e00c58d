"""What the TUI asks of a server, as one small async interface over `ocis_cli.client`.

`Remote` wraps a signed-in `Client`; tests can hand the app another object with the same methods.
No URL, XML or HTTP here: that is the SDK's business.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

from ocis_cli.client import (
    ChangeEvent,
    Client,
    Drive,
    IntegrityError,
    NotFound,
    Resource,
    TrashEntry,
)
from ocis_cli.client.shares import Sharee, ShareInfo, link_permissions

# progress(done_bytes): the absolute number of bytes transferred so far.
Progress = Callable[[int], None]
PREVIEW_LIMIT = 256 * 1024
SEARCH_LIMIT = 200          # matches of a space search shown at most
DEFAULT_POLL = 60.0


@dataclass(frozen=True, slots=True)
class Identity:
    server: str        # the server URL
    user: str          # the user name
    display_name: str
    context: str       # the CLI context it came from ("" when none)


class RemoteApi(Protocol):
    """The operations the browser uses; `Remote` is the real one."""

    identity: Identity

    async def drives(self) -> list[Drive]: ...
    async def listing(self, space_id: str, path: str) -> list[Resource]: ...
    async def root_etag(self, space_id: str) -> str: ...
    async def poll_interval(self) -> float: ...
    def changes(self) -> AsyncIterator[ChangeEvent]: ...   # the server's change stream (SSE)
    async def locate(self, space_id: str, item_id: str) -> Resource | None: ...
    async def mkdir(self, space_id: str, path: str) -> None: ...
    async def rename(self, space_id: str, src: str, dst: str) -> None: ...
    async def copy(self, space_id: str, src: str, dst: str) -> None: ...
    async def delete(self, space_id: str, path: str) -> None: ...
    async def upload(self, space_id: str, path: str, local: Path,
                     progress: Progress) -> str: ...     # the file's id ("" if not told)
    async def download(self, space_id: str, path: str, local: Path,
                       progress: Progress) -> None: ...
    async def read_head(self, space_id: str, path: str, limit: int = PREVIEW_LIMIT) -> bytes: ...
    async def thumbnail(self, space_id: str, path: str, width: int, height: int) -> bytes: ...
    async def search(self, space_id: str, pattern: str,
                     limit: int = SEARCH_LIMIT) -> tuple[list[Resource], int]: ...
    async def trash(self, space_id: str) -> list[TrashEntry]: ...
    async def restore(self, space_id: str, entry: TrashEntry) -> None: ...
    # sharing (`ocis_tui.screens.sharing`)
    async def sharees(self, term: str) -> list[Sharee]: ...
    async def item_shares(self, res: Resource) -> list[ShareInfo]: ...
    async def allowed_roles(self, res: Resource) -> list[str] | None: ...
    async def share(self, res: Resource, sharee: Sharee, role: str) -> ShareInfo: ...
    async def unshare(self, share_id: str) -> None: ...
    async def received(self) -> list[ShareInfo]: ...
    async def user_id(self) -> str: ...       # the signed-in user's id (`affecteduserids`)
    async def accept(self, share_id: str) -> None: ...
    async def decline(self, share_id: str) -> None: ...
    async def hide(self, share_id: str, *, hidden: bool) -> None: ...
    async def create_link(self, res: Resource, link_type: str, *, password: str = "",
                          expire: str = "") -> ShareInfo: ...


class _Limited(io.RawIOBase):
    """A sink that keeps the first `limit` bytes and then stops the download."""

    def __init__(self, limit: int) -> None:
        self.buffer = bytearray()
        self.limit = limit

    def write(self, data: Any) -> int:
        room = self.limit - len(self.buffer)
        self.buffer += bytes(data[:room])
        if len(self.buffer) >= self.limit:
            raise _Enough
        return len(data)


class _Enough(Exception):
    """Raised by `_Limited` to end a preview download early."""


class Remote:
    """`RemoteApi` over a live `Client` (the caller opens and closes it)."""

    def __init__(self, client: Client, identity: Identity) -> None:
        self.client = client
        self.identity = identity
        self.shares = client.shares

    def changes(self) -> AsyncIterator[ChangeEvent]:
        """Changes the user may see, as the server announces them (reconnects by itself)."""
        return self.client.events.stream()

    async def locate(self, space_id: str, item_id: str) -> Resource | None:
        """The item an event names (by id), as it lies in the space now; None when it is gone
        or the user cannot see it."""
        path = await self.client.events.path_of(item_id)
        if path is None:
            return None
        try:
            return await self.client.webdav.stat(space_id, path)
        except NotFound:
            return None

    async def user_id(self) -> str:
        return str((await self.client.graph.me()).get("id") or "")

    async def drives(self) -> list[Drive]:
        """The spaces, plus the share jail and one mount point per accepted share: Graph v1beta1
        lists those (oCIS sharing NG); a server without it answers v1.0's spaces only."""
        try:       # (the Graph client also learns the remote spaces registered by URL)
            value = await self.client.graph.my_drives_raw(shares=True)
        except NotFound:
            return await self.client.graph.my_drives()
        return [Drive.from_graph(d) for d in value]

    async def listing(self, space_id: str, path: str) -> list[Resource]:
        found = await self.client.webdav.propfind(space_id, path, depth=1)
        return found[1:]

    async def root_etag(self, space_id: str) -> str:
        return (await self.client.webdav.stat(space_id, "/")).etag

    async def poll_interval(self) -> float:
        """`core.pollinterval` from the capabilities, in seconds (oCIS sends seconds, ownCloud 10
        sent milliseconds: a value of 1000 or more is read as milliseconds)."""
        caps = await self.client.ocs.capabilities()
        caps = caps.get("capabilities", caps)
        value = (caps.get("core") or {}).get("pollinterval") if isinstance(caps, dict) else None
        if not isinstance(value, int | float) or value <= 0:
            return DEFAULT_POLL
        seconds = value / 1000 if value >= 1000 else float(value)
        return max(seconds, 5.0)

    async def mkdir(self, space_id: str, path: str) -> None:
        await self.client.webdav.mkcol(space_id, path)

    async def rename(self, space_id: str, src: str, dst: str) -> None:
        await self.client.webdav.move(space_id, src, space_id, dst, overwrite=False)

    async def copy(self, space_id: str, src: str, dst: str) -> None:
        await self.client.webdav.copy(space_id, src, space_id, dst, overwrite=False)

    async def delete(self, space_id: str, path: str) -> None:
        await self.client.webdav.delete(space_id, path)

    async def upload(self, space_id: str, path: str, local: Path, progress: Progress) -> str:
        """TUS when the server offers it (the SDK reports absolute offsets), else one PUT.
        Returns the file's id (what the change stream names it by; "" if the server says not)."""
        from ocis_cli.client.webdav import checksum_from_header, sha1_of_file

        stat = await asyncio.to_thread(local.stat)
        sha1 = await asyncio.to_thread(sha1_of_file, local)
        mtime = int(stat.st_mtime)
        if await self.client.tus.support() is not None:
            # The first chunk travels with the creation request, which reports no progress: keep
            # it to about 5% of the file so the bar moves from the start (at least 1 MiB a PATCH).
            chunk = max(1024 * 1024, stat.st_size // 20)
            await self.client.tus.upload(space_id, path, local, sha1=sha1, mtime=mtime,
                                         chunk_size=chunk, progress=progress)
            found = await self.client.webdav.stat(space_id, path)
            if checksum_from_header(found.checksums) not in (None, sha1):
                raise IntegrityError(f"{path}: the server's SHA1 is not the local file's")
            return found.id
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress(done)

        headers = await self.client.webdav.upload(space_id, path, local, sha1=sha1,
                                                  mtime=mtime, progress=advance)
        return next((v for k, v in headers.items() if k.lower() == "oc-fileid"), "")

    async def download(self, space_id: str, path: str, local: Path, progress: Progress) -> None:
        """Into a temporary file beside `local`, renamed into place once complete and verified."""
        from ocis_cli.client.webdav import verify_download

        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress(done)

        fd, tmp_name = await asyncio.to_thread(
            tempfile.mkstemp, prefix=f".{local.name}.", suffix=".part", dir=local.parent)
        tmp = Path(tmp_name)
        try:
            with _sink(fd) as sink:
                result = await self.client.webdav.download(space_id, path, sink, progress=advance)
            verify_download(result, path)
            await asyncio.to_thread(os.replace, tmp, local)
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
        if result.last_modified is not None:
            stamp = result.last_modified.timestamp()
            await asyncio.to_thread(os.utime, local, (stamp, stamp))

    async def read_head(self, space_id: str, path: str, limit: int = PREVIEW_LIMIT) -> bytes:
        sink = _Limited(limit)
        try:
            await self.client.webdav.download(space_id, path, sink)   # type: ignore[arg-type]
        except _Enough:
            pass
        return bytes(sink.buffer)

    async def thumbnail(self, space_id: str, path: str, width: int, height: int) -> bytes:
        """The server's thumbnail fitting width x height pixels (aspect kept)."""
        return await self.client.webdav.thumbnail(space_id, path, width=width, height=height,
                                                  processor="fit")

    async def search(self, space_id: str, pattern: str,
                     limit: int = SEARCH_LIMIT) -> tuple[list[Resource], int]:
        """Names matching `pattern` anywhere in the space (the server's REPORT search-files):
        (the first `limit` matches by path, how many matched)."""
        return await self.client.webdav.search(space_id, "/", pattern, limit=limit)

    async def trash(self, space_id: str) -> list[TrashEntry]:
        return await self.client.trash.list(space_id)

    async def restore(self, space_id: str, entry: TrashEntry) -> None:
        await self.client.trash.restore(space_id, entry.key, "/" + entry.original_location.lstrip("/"))

    # --- sharing ---------------------------------------------------------------------------------

    async def sharees(self, term: str) -> list[Sharee]:
        return await self.shares.sharees(term, limit=20)

    async def item_shares(self, res: Resource) -> list[ShareInfo]:
        """Everything shared of this item, user and group shares first, then links."""
        found = await self.shares.list_mine(item_id=res.id)
        return sorted(found, key=lambda s: (s.share_type, s.recipient))

    async def allowed_roles(self, res: Resource) -> list[str] | None:
        """The role ids the server allows granting on this item (Graph sharing NG
        `GET /v1beta1/drives/{drive}/items/{item}/permissions`); None from a server without it."""
        drive = res.id.split("!", 1)[0]
        try:
            doc = await self.client.http.json(
                "GET", f"/graph/v1beta1/drives/{quote(drive, safe='')}/items/"
                       f"{quote(res.id, safe='')}/permissions")
        except NotFound:
            return None
        values = doc.get("@libre.graph.permissions.roles.allowedValues") \
            if isinstance(doc, dict) else None
        if not isinstance(values, list):
            return None
        return [str(v.get("id")) for v in values if isinstance(v, dict)]

    async def share(self, res: Resource, sharee: Sharee, role: str) -> ShareInfo:
        return await self.shares.create(res.id, sharee.name, group=sharee.kind == "group",
                                        role=role)

    async def unshare(self, share_id: str) -> None:
        await self.shares.delete(share_id)

    async def received(self) -> list[ShareInfo]:
        """Shares with me in every state, hidden ones too; pending first."""
        found = await self.shares.received(state="all", show_hidden=True)
        order = {"pending": 0, "accepted": 1, "declined": 2}
        return sorted(found, key=lambda s: (order.get(s.state, 3), s.path.lower()))

    async def accept(self, share_id: str) -> None:
        await self.shares.accept(share_id)

    async def decline(self, share_id: str) -> None:
        await self.shares.decline(share_id)

    async def hide(self, share_id: str, *, hidden: bool) -> None:
        await self.shares.set_hidden(share_id, hidden)

    async def create_link(self, res: Resource, link_type: str, *, password: str = "",
                          expire: str = "") -> ShareInfo:
        """A public link of `link_type`; `expire` a `YYYY-MM-DD` date or ""."""
        bits = link_permissions(link_type, is_folder=res.is_folder)
        return await self.shares.create_link(res.id, permissions=bits, password=password or None,
                                             expire=expire or None)


def _sink(fd: int) -> BinaryIO:
    """The open temporary file a download streams into."""
    return os.fdopen(fd, "wb")


async def whoami(client: Client, server: str, context: str) -> Identity:
    me = await client.graph.me()
    user = str(me.get("onPremisesSamAccountName") or me.get("displayName") or "")
    return Identity(server=server, user=user, display_name=str(me.get("displayName") or user),
                    context=context)
