"""The TUI refreshes itself from the server's change stream (SSE), driven with Pilot: a file
another client uploads appears in the open folder, and a space the user is added to appears in
the spaces list, long before the etag poll (every 60 s) would notice."""

from __future__ import annotations

from typing import Any

from ocis_cli.client import Client
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
