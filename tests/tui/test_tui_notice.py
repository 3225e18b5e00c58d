"""A share received while the TUI runs (shares not accepted automatically): the server's change
stream (`share-created` with the user among `affecteduserids`) brings a notice naming the folder
and its owner, and `A` accepts it (the CLI SDK's accept, as `ocis share accept`); who shared gets
no notice; `A` with nothing announced only warns. A federated share waiting to be accepted is
announced the same way (userlog-notification on the stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ocis_cli.client import Client
from ocis_server.runtime import embedded_server, make_test_config
from ocis_tui.app import make_app

from test_ocm_federation import pair  # noqa: F401  (the fixture: zurich and paris)

from .conftest import opener, ready, wait_for
from .test_tui_browse import personal


@pytest.fixture
async def pending_server(tmp_path: Path) -> AsyncIterator[Any]:
    config = make_test_config(tmp_path / "srv", FRONTEND_AUTO_ACCEPT_SHARES="false")
    async with embedded_server(config) as srv:
        yield srv


def notices(app: Any) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def test_a_received_share_is_announced_and_accepted_with_a(pending_server: Any) -> None:
    url = pending_server.url
    marie_app = make_app(opener(url, "marie", "radioactivity"))
    einstein_app = make_app(opener(url, "einstein", "relativity"))
    async with Client(url, user="einstein", password="relativity") as einstein, \
            Client(url, user="marie", password="radioactivity") as marie, \
            marie_app.run_test(size=(100, 30), notifications=True) as pilot, \
            einstein_app.run_test(size=(100, 30), notifications=True) as own:
        browser = await ready(pilot)
        await ready(own)
        await pilot.press("A")                          # nothing announced yet
        assert any("no share is waiting" in n for n in notices(marie_app))
        await pilot.pause(1.0)                          # the streams are open by now
        space = await personal(einstein)
        await einstein.webdav.mkcol(space, "/physics")
        node = await einstein.webdav.stat(space, "/physics")
        await einstein.shares.create(node.id, "marie", role="viewer")
        await wait_for(pilot, lambda: any(
            n.startswith("Share received: physics from einstein") and "press A" in n
            for n in notices(marie_app)), timeout=8, what="the notice")
        [waiting] = await marie.shares.received()
        assert waiting.state == "pending"
        await pilot.press("A")
        await wait_for(pilot, lambda: "share accept" in (browser.cli_log or [""])[-1],
                       what="accepted")
        [done] = await marie.shares.received()
        assert done.state == "accepted"
        assert f"ocis --context test share accept {done.id}" in browser.cli_log
        assert not any(n.startswith("Share received") for n in notices(einstein_app))


async def test_a_federated_share_waiting_is_announced_and_accepted_with_a(pair: Any) -> None:
    """Two instances: einstein at zurich shares a folder with marie@paris.test; Marie's TUI on
    paris gets the notice from her stream (userlog-notification, the federated share waiting to
    be accepted) naming the folder and the sharer's address; `A` accepts it at paris."""
    from test_ocm_auto_accept import share

    marie_app = make_app(opener(pair.paris.url, "marie", "radioactivity"))
    async with Client(pair.paris.url, user="marie", password="radioactivity") as marie, \
            marie_app.run_test(size=(100, 30), notifications=True) as pilot:
        browser = await ready(pilot)
        await pilot.pause(1.0)                          # the stream is open by now
        await share(pair, "Relativity")
        await wait_for(pilot, lambda: any(
            n.startswith("Share received: Relativity from einstein") and "press A" in n
            for n in notices(marie_app)), timeout=10, what="the notice")
        [waiting] = await marie.shares.received()
        assert waiting.state == "pending" and waiting.id.startswith("ocm:")
        await pilot.press("A")
        await wait_for(pilot, lambda: "share accept" in (browser.cli_log or [""])[-1],
                       what="accepted")
        [done] = await marie.shares.received()
        assert done.state == "accepted"
        assert f"ocis --context test share accept {done.id}" in browser.cli_log
