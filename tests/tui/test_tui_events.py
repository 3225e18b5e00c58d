"""The TUI refreshes itself from the server's change stream (SSE), driven with Pilot: a file
another client uploads appears in the open folder, and a space the user is added to appears in
the spaces list, long before the etag poll (every 60 s) would notice; the transfers pane shows
when the server announces an upload ready."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ocis_cli.client import Client
from ocis_cli.client.webdav import sha1_of_file
from ocis_tui.transfers import State
from ocis_tui.widgets.transfers import render_transfers
from ocis_tui.widgets.spaces import SpacesList

from .conftest import ready, wait_for
from .test_tui_browse import personal


async def test_open_folder_and_spaces_list_follow_the_stream(tui_app: Any, server: Any,
                                                              einstein: Client) -> None:
    space = await personal(einstein)
    await einstein.webdav.mkcol(space, "/docs")
    app = tui_app()
    async with app.run_test(size=(100, 30)) as pilot:
        browser = await ready(pilot)
        assert [r.name for r in browser.table.shown] == ["docs"]
        await pilot.pause(1.0)                          # the stream is open by now
        await einstein.webdav.mkcol(space, "/news")     # another client of the same user
        await wait_for(pilot, lambda: [r.name for r in browser.table.shown] == ["docs", "news"],
                       timeout=8, what="the new folder, without a refresh key")
        async with Client(server.url, user="admin", password="admin") as admin:
            doc = await admin.http.json("POST", "/graph/v1.0/drives", body={"name": "Lab"})
            await admin.http.request(
                "POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                data={"space_ref": doc["id"], "shareType": "7", "shareWith": "einstein",
                      "role": "viewer"})
        spaces = app.screen.query_one(SpacesList)
        await wait_for(pilot, lambda: "Lab" in [d.name for d in spaces.drives.values()],
                       timeout=8, what="the new space in the list")


async def test_transfers_pane_follows_the_stream(tui_app: Any, einstein: Client,
                                                 tmp_path: Path) -> None:
    """Our own upload stays `processing` until the stream's postprocessing-finished names it,
    then is done; an upload another client makes to the open space joins the pane, done, with
    its size; one to a space that is not open does not."""
    space = await personal(einstein)
    local = tmp_path / "mine.bin"
    local.write_bytes(b"m" * 4096)
    app = tui_app()
    async with app.run_test(size=(120, 30)) as pilot:
        browser = await ready(pilot)
        await pilot.pause(1.0)                          # the stream is open by now
        assert browser.following
        browser.transfer_upload(browser.drive, "/", local)
        [mine] = app.transfers.items
        # while the stream follows, only its postprocessing-finished ends an upload (`announced`
        # is set by the stream alone; a processing upload it never names stays processing)
        await wait_for(pilot, lambda: mine.settled, timeout=8, what="our upload")
        assert mine.state is State.DONE and mine.announced and mine.item_id

        other = tmp_path / "other.txt"                  # another client of the same user
        other.write_bytes(b"x" * 1234)
        await einstein.webdav.upload(space, "/other.txt", other,
                                     sha1=sha1_of_file(other), mtime=1_700_000_000)
        await wait_for(pilot, lambda: len(app.transfers.items) == 2, timeout=8,
                       what="the other client's upload in the pane")
        theirs = app.transfers.items[1]
        assert (theirs.name, theirs.total, theirs.state, theirs.elsewhere) == \
            ("other.txt", 1234, State.DONE, True)
        browser.show_transfers()
        await pilot.pause(0.1)
        text = render_text(render_transfers(app.transfers))
        assert "other.txt" in text and "done elsewhere" in text and "mine.bin" in text

        async with Client(browser.remote.identity.server, user="marie",
                          password="radioactivity") as marie:   # a space einstein cannot see
            mspace = await personal(marie)
            await marie.webdav.upload(mspace, "/hers.txt", other,
                                      sha1=sha1_of_file(other), mtime=1_700_000_000)
        await einstein.webdav.mkcol(space, "/after")    # an event after hers, as a marker
        await wait_for(pilot, lambda: "after" in [r.name for r in browser.table.shown],
                       timeout=8, what="the marker folder")
        assert [t.name for t in app.transfers.items] == ["mine.bin", "other.txt"]


async def test_an_upload_into_a_received_share_is_announced(tui_app: Any, server: Any,
                                                            einstein: Client,
                                                            tmp_path: Path) -> None:
    """Inside a share mount the item's path for the user starts at the shared folder: the
    upload is still matched (by the id the server answered with) and ends done."""
    async with Client(server.url, user="marie", password="radioactivity") as marie:
        mspace = await personal(marie)
        await marie.webdav.mkcol(mspace, "/lab")
        node = await marie.webdav.stat(mspace, "/lab")
        await marie.shares.create(node.id, "einstein", role="editor")
    local = tmp_path / "result.txt"
    local.write_bytes(b"r" * 100)
    app = tui_app()
    async with app.run_test(size=(120, 30)) as pilot:
        browser = await ready(pilot)
        await pilot.pause(1.0)
        spaces = app.screen.query_one(SpacesList)
        await wait_for(pilot, lambda: "lab" in [d.name for d in spaces.drives.values()],
                       what="the share in the spaces list")
        mount = next(d for d in spaces.drives.values() if d.name == "lab")
        browser.transfer_upload(mount, "/", local)
        [item] = app.transfers.items
        await wait_for(pilot, lambda: item.settled, timeout=8, what="the upload into the share")
        assert item.state is State.DONE and item.announced and item.item_id


def render_text(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
