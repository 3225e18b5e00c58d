"""Auto-accept of received federated shares, two real instances: Marie's own `auto-accept-shares`
setting (settings service, profile bundle) decides whether a share from zurich starts accepted
(a space in her registry at once, readable through paris) or pending; without a value of her
own it starts pending, whatever the server default (FRONTEND_AUTO_ACCEPT_SHARES, on here)."""

from __future__ import annotations

import json
from typing import Any

from test_ocm_federation import (  # noqa: F401  (the fixture)
    EINSTEIN, MARIE, OCS, Pair, call, pair, remote_drives)

from ocis_server.domain import roles
from ocis_server.sharing import federated_sent, rules

AUTO_ACCEPT = "ec3ed4a3-3946-4efc-8f9f-76d38b12d3a9"
PROFILE = "2a506de7-99bd-4f0d-994e-c38e72c28fd9"


async def set_auto_accept(p: Pair, value: bool) -> None:
    body = {"value": {"bundleId": PROFILE, "settingId": AUTO_ACCEPT, "accountUuid": "me",
                      "resource": {"type": "TYPE_USER"}, "boolValue": value}}
    status, _, _ = await call(p.http, "POST", f"{p.paris.url}/api/v0/settings/values-save",
                              MARIE, json=body)
    assert status in (200, 201)


async def share(p: Pair, folder: str) -> None:
    base = f"{p.zurich.url}/remote.php/webdav"
    assert (await call(p.http, "MKCOL", f"{base}/{folder}", EINSTEIN))[0] == 201
    assert (await call(p.http, "PUT", f"{base}/{folder}/a.txt", EINSTEIN, data=b"E=mc2"))[0] \
        == 201
    ctx = p.zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    assert ctx.ocm is not None
    node = await ctx.storage.lookup(einstein.id, (folder,))
    access = await rules.access_to(ctx, einstein, node)
    await federated_sent.create(ctx, einstein, node, access, roles.VIEWER, "marie@paris.test",
                                ctx.ocm)


async def states(p: Pair) -> dict[str, int]:
    status, body, _ = await call(p.http, "GET", f"{p.paris.url}{OCS}/shares?shared_with_me=true"
                                 "&state=all&format=json", MARIE)
    assert status == 200
    data: list[dict[str, Any]] = json.loads(body)["ocs"]["data"]
    return {s["name"]: s["state"] for s in data}


async def test_marie_decides_with_her_own_setting(pair: Pair) -> None:
    p = pair
    await share(p, "Default")                  # no value of her own: pending
    assert (await states(p)) == {"Default": 1}
    assert "Default" not in await remote_drives(p)

    await set_auto_accept(p, True)
    await share(p, "Auto")
    assert (await states(p))["Auto"] == 0      # accepted on arrival
    drive = (await remote_drives(p))["Auto"]
    status, body, _ = await call(p.http, "GET", drive["root"]["webDavUrl"] + "/a.txt", MARIE)
    assert (status, body) == (200, b"E=mc2")

    await set_auto_accept(p, False)
    await share(p, "Asked")
    assert (await states(p))["Asked"] == 1
    assert "Asked" not in await remote_drives(p)
