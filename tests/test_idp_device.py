"""The device authorization grant (RFC 8628) in process: start, poll, the entry page a person uses,
approval, denial, slow_down, expiry of use, and throttled code guessing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from idp_helpers import ISSUER, forms, idp_root, make_context

from ocis_server.services.context import ServiceContext

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[ServiceContext]:
    context = await make_context(tmp_path, IDP_DEVICE_POLL_INTERVAL="1")
    await context.users.create(username="einstein", password="relativity")
    yield context
    await context.users.close()


@pytest.fixture
async def client(aiohttp_client: Any, ctx: ServiceContext) -> Any:
    return await aiohttp_client(idp_root(ctx))


async def start(client: Any, client_id: str = "ocis-cli") -> dict[str, Any]:
    resp = await client.post("/konnect/v1/device_authorization",
                             data={"client_id": client_id, "scope": "openid offline_access"})
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def poll(client: Any, device_code: str, client_id: str = "ocis-cli") -> Any:
    return await client.post("/konnect/v1/token", data={
        "grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id})


async def sign_in(client: Any, start_url: str) -> Any:
    """Open the device page, meet the login form, sign in; returns the device page."""
    page = await client.get(start_url)
    login = forms(await page.text())["login"]
    resp = await client.post(login["action"], data={**login["fields"], "username": "einstein",
                                                    "password": "relativity"})
    assert resp.status == 200
    return resp


async def enter_code(client: Any, page: Any, user_code: str) -> Any:
    form = forms(await page.text())["device"]
    return await client.post(form["action"], data={**form["fields"], "user_code": user_code})


async def decide(client: Any, page: Any, decision: str) -> Any:
    form = forms(await page.text())["consent"]
    return await client.post(form["action"], data={**form["fields"], "decision": decision})


async def test_device_flow_approved(client: Any) -> None:
    grant = await start(client)
    assert grant["verification_uri"] == ISSUER + "/signin/v1/device"
    assert grant["verification_uri_complete"].endswith("user_code=" + grant["user_code"])
    assert grant["interval"] == 1 and grant["expires_in"] == 600
    pending = await poll(client, grant["device_code"])
    assert pending.status == 400 and (await pending.json())["error"] == "authorization_pending"
    fast = await poll(client, grant["device_code"])       # again at once: too fast
    assert (await fast.json())["error"] == "slow_down"

    page = await sign_in(client, "/signin/v1/device")
    typed = grant["user_code"].lower().replace("-", " ")   # how a person might type it
    confirm = await enter_code(client, page, typed)
    text = await confirm.text()
    assert "ocis command line" in text and "einstein" in text and grant["user_code"] in text
    done = await decide(client, confirm, "allow")
    assert "Device connected" in await done.text()

    tokens = await poll(client, grant["device_code"])
    assert tokens.status == 200
    body = await tokens.json()
    assert body["access_token"] and body["refresh_token"] and body["id_token"]
    reused = await poll(client, grant["device_code"])
    assert (await reused.json())["error"] == "invalid_grant"


async def test_device_flow_denied_with_code_in_link(client: Any) -> None:
    grant = await start(client)
    page = await sign_in(client, grant["verification_uri_complete"].removeprefix(ISSUER))
    assert forms(await page.text())["device"]["fields"]["user_code"] == grant["user_code"]
    confirm = await enter_code(client, page, grant["user_code"])
    done = await decide(client, confirm, "deny")
    assert "denied" in await done.text()
    resp = await poll(client, grant["device_code"])
    assert (await resp.json())["error"] == "access_denied"


async def test_only_the_cli_may_use_the_device_grant(client: Any) -> None:
    resp = await client.post("/konnect/v1/device_authorization", data={"client_id": "web"})
    assert resp.status == 400 and (await resp.json())["error"] == "unauthorized_client"
    grant = await start(client)
    resp = await poll(client, grant["device_code"], client_id="web")
    assert resp.status == 400


async def test_wrong_codes_are_throttled(client: Any) -> None:
    page = await sign_in(client, "/signin/v1/device")
    for _ in range(10):
        resp = await enter_code(client, page, "BCDF-GHJK")
        assert resp.status == 200 and "not valid" in await resp.text()
    resp = await enter_code(client, page, "BCDF-GHJK")
    assert resp.status == 429


async def test_device_pages_need_csrf(client: Any) -> None:
    grant = await start(client)
    page = await sign_in(client, "/signin/v1/device")
    form = forms(await page.text())["device"]
    resp = await client.post(form["action"], data={"user_code": grant["user_code"]})
    assert resp.status == 403


async def test_unknown_or_missing_device_codes(client: Any) -> None:
    resp = await poll(client, "no-such-code")
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"
    resp = await client.post("/konnect/v1/token", data={"grant_type": DEVICE_GRANT,
                                                         "client_id": "ocis-cli"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    resp = await client.post("/konnect/v1/device_authorization", data={"client_id": "nobody"})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    resp = await client.post("/konnect/v1/device_authorization",
                             data={"client_id": "ocis-cli", "scope": "openid bogus"})
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert set(await resp.json()) == {"device_code", "user_code", "verification_uri",
                                      "verification_uri_complete", "expires_in", "interval"}
