"""A `RemoteApi` with fixed content and no network, so snapshots show the same screen every run.

Behaviour tests use the real server (test_tui_browse, test_tui_files); this only feeds pictures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocis_cli.client import Drive, NotFound, Resource, TrashEntry
from ocis_tui.remote import Identity, Progress, RemoteApi

WHEN = datetime(2026, 3, 14, 9, 26, tzinfo=UTC)


def drive(id: str, name: str, kind: str, used: int, total: int | None) -> Drive:
    return Drive(id=id, name=name, drive_type=kind, alias="", web_dav_url="", quota_used=used,
                 quota_total=total, owner_id="", raw={})


def res(path: str, size: int = 0, *, folder: bool = False, perms: str = "RDNVW",
        hours: int = 0, shares: tuple[int, ...] = ()) -> Resource:
    return Resource(path=path, name=path.rsplit("/", 1)[-1], is_folder=folder, size=size,
                    mtime=WHEN.replace(hour=9 + hours), etag='"e1"', id=f"id-{path}",
                    permissions=perms, content_type="" if folder else "text/markdown",
                    share_types=shares)


DRIVES = [
    drive("p1", "Albert Einstein", "personal", 5_300_000, 10 * 1024**3),
    drive("x1", "Physics", "project", 120_000_000, None),
    drive("x2", "Teaching", "project", 0, 1024**3),
    drive("s1", "Shares", "virtual", 0, None),
]
TREE: dict[tuple[str, str], list[Resource]] = {
    ("p1", "/"): [res("/Documents", folder=True, perms="RDNVCK", shares=(0, 3)),
                  res("/Photos", folder=True, perms="SRDNVCK"),
                  res("/README.md", 1234, hours=1, shares=(3,)),
                  res("/relativity.pdf", 4_200_000, hours=2),
                  res("/notes.txt", 88, perms="SRDNVW", hours=3)],
    ("p1", "/Documents"): [res("/Documents/draft.md", 2048)],
    ("x1", "/"): [res("/runs", folder=True), res("/paper.md", 9000)],
}
TEXT = b"# Relativity\n\nE = mc^2, and *everything* else follows.\n"


class FakeRemote:
    def __init__(self) -> None:
        self.identity = Identity(server="https://cloud.example.com", user="einstein",
                                 display_name="Albert Einstein", context="cloud.example.com")

    async def drives(self) -> list[Drive]:
        return list(DRIVES)

    async def listing(self, space_id: str, path: str) -> list[Resource]:
        return list(TREE.get((space_id, path), []))

    async def root_etag(self, space_id: str) -> str:
        return '"root"'

    async def changes(self) -> AsyncIterator[Any]:
        """No change stream: the fake never announces anything."""
        await asyncio.Event().wait()
        yield None

    async def poll_interval(self) -> float:
        return 3600.0

    async def locate(self, space_id: str, item_id: str) -> Resource | None:
        return None              # the fake announces nothing to look up

    async def mkdir(self, space_id: str, path: str) -> None:
        raise NotFound("read-only fake", status=404)

    rename = copy = delete = mkdir  # type: ignore[assignment]

    async def upload(self, space_id: str, path: str, local: Path, progress: Progress) -> str:
        raise NotFound("read-only fake", status=404)

    async def download(self, space_id: str, path: str, local: Path, progress: Progress) -> None:
        raise NotFound("read-only fake", status=404)

    async def read_head(self, space_id: str, path: str, limit: int = 0) -> bytes:
        return TEXT

    async def trash(self, space_id: str) -> list[TrashEntry]:
        return [TrashEntry(key="k1", name="old.txt", original_location="Documents/old.txt",
                           is_folder=False, size=512, deleted=WHEN)]

    async def restore(self, space_id: str, entry: TrashEntry) -> None:
        return None

    async def received(self) -> list[Any]:
        return []                # no pending shares: the spaces list looks as it always did


def fake_opener() -> Callable[[], AbstractAsyncContextManager[RemoteApi]]:
    @asynccontextmanager
    async def open_remote() -> AsyncIterator[Any]:
        yield FakeRemote()

    return open_remote
