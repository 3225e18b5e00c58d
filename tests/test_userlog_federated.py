"""In-app notifications for a federated share waiting to be accepted: a share zurich sends to
marie@paris.test over OCM (`POST /ocm/shares`) becomes one notification for Marie at paris, naming
the sharer by their OCM address, and for nobody else; names from the other server are shown as
one line of plain text (no control characters, no placeholder expanded)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocm_peers import write_providers
from test_ocm_shares import SHARE, ZURICH, changed

NOTIFICATIONS = "/ocs/v2.php/apps/notifications/api/v1/notifications"
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")


@pytest.fixture
async def paris(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedServer, aiohttp.ClientSession]]:
    providers = write_providers(tmp_path / "ocmproviders.json", {"zurich.test": ZURICH})
    config = make_test_config(tmp_path / "paris", OCIS_ENABLE_OCM="true",
                              OCM_REQUIRE_INVITE="false", OCM_DOMAIN="paris.test",
                              OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(providers))
    async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
        yield srv, http


async def notifications(http: aiohttp.ClientSession, srv: EmbeddedServer,
                        auth: aiohttp.BasicAuth, expect: int = 0) -> list[dict[str, Any]]:
    """The user's notifications once there are at least `expect` (the bus is asynchronous)."""
    deadline = time.monotonic() + 10
    while True:
        async with http.get(srv.url + NOTIFICATIONS, auth=auth) as resp:
            assert resp.status == 200, await resp.text()
            data: list[dict[str, Any]] = (await resp.json())["ocs"]["data"]
        if len(data) >= expect or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.1)


async def offer(http: aiohttp.ClientSession, srv: EmbeddedServer, body: dict[str, Any]) -> None:
    async with http.post(f"{srv.url}/ocm/shares", json=body) as resp:
        assert resp.status == 201, await resp.text()


async def test_a_pending_federated_share_notifies_its_recipient_only(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession]) -> None:
    srv, http = paris
    await offer(http, srv, SHARE)
    [note] = await notifications(http, srv, MARIE, 1)
    assert (note["app"], note["subject"], note["object_type"]) == (
        "userlog", "Resource shared", "share")
    assert note["message"] == ("Albert Einstein (einstein@zurich.test) shared Physics with you"
                               " (waiting to be accepted)")
    assert note["messageRich"] == "{user} shared {resource} with you (waiting to be accepted)"
    params = note["messageRichParameters"]
    assert params["user"]["name"] == "einstein@zurich.test" == note["user"]
    assert params["resource"]["name"] == "Physics"
    assert note["object_id"].startswith("ocm:") and params["resource"]["id"] == note["object_id"]
    # the id is the one Marie accepts it with
    async with http.get(srv.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                        params={"shared_with_me": "true", "state": "all", "format": "json"},
                        auth=MARIE) as resp:
        listed = (await resp.json())["ocs"]["data"]
    assert note["object_id"] in {s["id"] for s in listed}, listed
    await asyncio.sleep(0.5)          # time enough for a stray notification to arrive
    assert await notifications(http, srv, EINSTEIN) == []
    assert len(await notifications(http, srv, MARIE)) == 1


async def test_names_from_the_other_server_are_plain_text(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession]) -> None:
    srv, http = paris
    await offer(http, srv, changed(name="Phys\u2028ics {user}\u202e", providerId="other-id",
                                   senderDisplayName="Eve\x85<b>{resource}</b>\x7f"))
    [note] = await notifications(http, srv, MARIE, 1)
    assert note["message"] == ("Eve <b>{resource}</b> (einstein@zurich.test) shared"
                               " Phys ics {user} with you (waiting to be accepted)")
    assert note["messageRichParameters"]["resource"]["name"] == "Phys ics {user}"
    assert all(c.isprintable() for c in note["message"])
