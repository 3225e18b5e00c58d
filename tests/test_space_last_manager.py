"""A project space always keeps a Manager whose membership never ends (oCIS issue 11205): its
last such Manager may not set an expiry on their own membership, nor leave, nor be demoted, by
Graph or by OCS; with a second permanent Manager they may. Otherwise the space would end up with
no Manager at all once the date passes, and nobody could change its members again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from graph_sharing_helpers import B, Client, invite_body, ocs_shares, with_project_space

from ocis_server.domain import roles
from ocis_server.runtime import embedded_server, make_test_config

FUTURE = "2099-05-01T10:00:00Z"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with embedded_server(make_test_config(tmp_path), only=["ocdav", "frontend", "graph"]) \
            as srv, aiohttp.ClientSession() as session:
        yield await with_project_space(Client(session, srv.url), ("marie",))


def perm(client: Client, user: str) -> str:
    return f"{B}/drives/{client.ids['drive']}/root/permissions/u:{client.ids[user]}"


async def members(client: Client) -> dict[str, tuple[list[str], str | None]]:
    """principal id -> (roles, expirationDateTime) as the space's Manager lists them."""
    status, body = await client.call("GET", "katherine",
                                     f"{B}/drives/{client.ids['drive']}/root/permissions")
    assert status == 200
    return {p["id"]: (p["roles"], p.get("expirationDateTime")) for p in body["value"]}


async def test_last_manager_cannot_expire_by_graph(client: Client) -> None:
    me = f"u:{client.ids['katherine']}"
    status, body = await client.call("PATCH", "katherine", perm(client, "katherine"),
                                     {"expirationDateTime": FUTURE})
    assert status == 400 and "last manager" in body["error"]["message"]
    # re-inviting oneself with an expiry is the same change
    status, _ = await client.call("POST", "katherine",
                                  f"{B}/drives/{client.ids['drive']}/root/invite",
                                  invite_body(client.ids["katherine"], roles.MANAGER,
                                              expirationDateTime=FUTURE))
    assert status == 400
    assert (await members(client))[me] == ([roles.MANAGER.id], None)

    # with marie as a second permanent Manager, katherine's membership may end...
    status, _ = await client.call("POST", "katherine",
                                  f"{B}/drives/{client.ids['drive']}/root/invite",
                                  invite_body(client.ids["marie"], roles.MANAGER))
    assert status == 200
    status, body = await client.call("PATCH", "katherine", perm(client, "katherine"),
                                     {"expirationDateTime": FUTURE})
    assert status == 200 and body["expirationDateTime"].startswith("2099-05-01"), body
    # ...and then marie is the one who must stay: no expiry, no leaving, no demotion
    for change in ({"expirationDateTime": FUTURE}, {"roles": [roles.SPACE_EDITOR.id]}):
        status, body = await client.call("PATCH", "marie", perm(client, "marie"), change)
        assert status == 400 and "last manager" in body["error"]["message"], change
    status, _ = await client.call("DELETE", "marie", perm(client, "marie"))
    assert status == 400
    listed = await members(client)
    assert listed[f"u:{client.ids['marie']}"] == ([roles.MANAGER.id], None)
    # clearing katherine's expiry makes her permanent again: now marie may go
    status, _ = await client.call("PATCH", "katherine", perm(client, "katherine"),
                                  {"expirationDateTime": None})
    assert status == 200
    status, _ = await client.call("DELETE", "marie", perm(client, "marie"))
    assert status == 204
    assert (await members(client)) == {me: ([roles.MANAGER.id], None)}


async def test_last_manager_cannot_expire_by_ocs(client: Client) -> None:
    space = client.ids["drive"]
    form = {"shareType": "7", "space": space, "role": "manager"}
    status, body = await ocs_shares(client, "katherine", "POST", "", shareWith="katherine",
                             expireDate="2099-12-31", **form)
    assert status == 400 and "last manager" in body["ocs"]["meta"]["message"], body
    assert (await members(client))[f"u:{client.ids['katherine']}"] == ([roles.MANAGER.id], None)
    storage_id, space_id = space.split("$")
    status, _ = await ocs_shares(client, "katherine", "DELETE",
                          f"/{storage_id}:{space_id}:{client.ids['katherine']}")
    assert status == 400
    # a second Manager with an expiry does not count as one who stays
    status, body = await ocs_shares(client, "katherine", "POST", "", shareWith="marie",
                             expireDate="2099-12-31", **form)
    assert status == 200, body
    status, body = await ocs_shares(client, "katherine", "POST", "", shareWith="katherine",
                             expireDate="2099-12-31", **form)
    assert status == 400, body
    status, body = await ocs_shares(client, "katherine", "POST", "", shareWith="marie", **form)
    assert status == 200, body                                # marie now never expires
    status, body = await ocs_shares(client, "katherine", "POST", "", shareWith="katherine",
                             expireDate="2099-12-31", **form)
    assert status == 200 and body["ocs"]["data"]["expiration"] == "2099-12-31 23:59:59", body
