"""Every event type issue 15 names is published by a real server for what a client does over
HTTP (WebDAV, OCS, Graph through the CLI's SDK), in the order the changes were made; and a space
membership that ends stops the member's SSE stream as a removed share does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sse_helpers import SseReader

from ocis_cli.client import Client
from ocis_cli.client.webdav import sha1_of_file
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.embed import EmbeddedServer

# issue 15, "Events": at least these
NAMED = ["ContainerCreated", "FileUploaded", "FileTouched", "ItemMoved", "ItemTrashed",
         "ItemRestored", "ItemPurged", "FileVersionRestored", "ShareCreated", "ShareUpdated",
         "ShareRemoved", "LinkCreated", "LinkRemoved", "SpaceCreated", "SpaceRenamed",
         "SpaceDisabled", "SpaceDeleted", "SpaceShared", "SpaceUnshared", "UserCreated",
         "UserDeleted", "GroupMemberAdded", "GroupMemberRemoved"]


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    async with embedded_server(make_test_config(tmp_path / "srv")) as s:
        yield s


async def put(client: Client, space: str, path: str, data: bytes, tmp: Path) -> None:
    local = tmp / "body"
    local.write_bytes(data)
    await client.webdav.upload(space, path, local, sha1=sha1_of_file(local), mtime=1_700_000_000)


async def files_and_shares(admin: Client, space: str, tmp: Path) -> None:
    await admin.webdav.mkcol(space, "/docs")                               # ContainerCreated
    await put(admin, space, "/docs/a.txt", b"one", tmp)                     # FileUploaded
    await put(admin, space, "/docs/a.txt", b"two", tmp)                     # FileUploaded
    await put(admin, space, "/docs/empty.txt", b"", tmp)                    # FileTouched
    await admin.webdav.move(space, "/docs/empty.txt", space, "/docs/e.txt")  # ItemMoved
    await admin.webdav.delete(space, "/docs/e.txt")                         # ItemTrashed
    [entry] = await admin.trash.list(space)
    assert await admin.trash.restore(space, entry.key, "/docs/e.txt") == 201   # ItemRestored
    await admin.webdav.delete(space, "/docs/e.txt")
    [entry] = await admin.trash.list(space)
    await admin.trash.purge(space, entry.key)                               # ItemPurged
    node = await admin.webdav.stat(space, "/docs/a.txt")
    [version] = await admin.versions.list(node.id)
    await admin.versions.restore(node.id, version.key)                      # FileVersionRestored
    folder = await admin.webdav.stat(space, "/docs")
    share = await admin.shares.create(folder.id, "marie", role="viewer")    # ShareCreated
    await admin.shares.update(share.id, role="editor")                      # ShareUpdated
    await admin.shares.delete(share.id)                                     # ShareRemoved
    link = await admin.shares.create_link(folder.id, permissions=1)         # LinkCreated
    await admin.shares.delete(link.id)                                      # LinkRemoved


async def spaces_and_users(admin: Client) -> None:
    drive = await admin.graph.create_drive("Lab")                           # SpaceCreated
    await admin.graph.update_drive(drive.id, name="Laboratory")             # SpaceRenamed
    marie = await admin.graph.principal_id("marie")
    member = await admin.graph.add_drive_member(drive.id, marie, role="space-viewer")  # Shared
    await admin.graph.remove_drive_member(drive.id, member)                 # SpaceUnshared
    await admin.graph.disable_drive(drive.id)                               # SpaceDisabled
    await admin.graph.purge_drive(drive.id)                                 # SpaceDeleted
    await admin.users.create("newton", "gravity-1687", email="newton@example.org")  # UserCreated
    await admin.users.create_group("optics")
    await admin.users.add_member("optics", "newton")                        # GroupMemberAdded
    await admin.users.remove_member("optics", "newton")                     # GroupMemberRemoved
    await admin.users.delete("newton")                                      # UserDeleted


async def test_every_named_event_is_published_in_order(srv: EmbeddedServer,
                                                       tmp_path: Path) -> None:
    consumer = srv.ctx.events.consume("test-catalogue")
    async with Client(srv.url, user="admin", password="admin") as admin:
        personal = next(d for d in await admin.graph.my_drives() if d.drive_type == "personal")
        await files_and_shares(admin, personal.id, tmp_path)
        await spaces_and_users(admin)
    seen: list[str] = []
    while (delivery := await consumer.fetch(1.0)) is not None:
        seen.append(delivery.event.type)
        consumer.ack(delivery.seq)
    consumer.close()
    missing = [name for name in NAMED if name not in seen]
    assert not missing, (missing, seen)
    firsts = [seen.index(name) for name in NAMED]
    order = ["ContainerCreated", "FileUploaded", "FileTouched", "ItemMoved", "ItemTrashed",
             "ItemRestored", "ItemPurged", "FileVersionRestored", "ShareCreated", "ShareUpdated",
             "ShareRemoved", "LinkCreated", "LinkRemoved", "SpaceCreated", "SpaceRenamed",
             "SpaceShared", "SpaceUnshared", "SpaceDisabled", "SpaceDeleted", "UserCreated",
             "GroupMemberAdded", "GroupMemberRemoved", "UserDeleted"]
    assert sorted(order, key=lambda n: firsts[NAMED.index(n)]) == order, seen


async def test_an_ended_membership_stops_the_stream(srv: EmbeddedServer, tmp_path: Path) -> None:
    async with Client(srv.url, user="admin", password="admin") as admin, \
            SseReader(srv.url, "marie", "radioactivity") as marie:
        drive = await admin.graph.create_drive("Lab")
        member = await admin.graph.add_drive_member(
            drive.id, await admin.graph.principal_id("marie"), role="space-viewer")
        assert (await marie.next()).event == "space-member-added"
        await put(admin, drive.id, "/seen.txt", b"x", tmp_path)
        uploaded = await marie.next()
        assert (uploaded.event, uploaded.data["spaceid"]) == ("postprocessing-finished", drive.id)
        await admin.graph.remove_drive_member(drive.id, member)
        assert (await marie.next()).event == "space-member-removed"
        await put(admin, drive.id, "/unseen.txt", b"y", tmp_path)
        await admin.webdav.mkcol(drive.id, "/later")
        assert await marie.quiet(1.5) == []
        notes = [(await marie.note()).data["subject"] for _ in range(2)]
        assert notes == ["Space shared", "Removed from Space"]
