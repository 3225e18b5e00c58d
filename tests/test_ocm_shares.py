"""POST /ocm/shares, the receiving side (OCM API `NewShare`): paris records a share zurich sends
to Marie as a pending federated share (a registry entry: provider, remote id, secret, WebDAV URI),
through the sharing layer; every bad or missing field is a 400 with the spec's
`validationErrors`, an unlisted sender 403, an unsupported share type 501, a URI off the sender's
listed origins 400. No credentials are needed (a peer has none); the answers are OCM JSON."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocis_server.domain.errors import NotFound
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocis_server.sharing import federated
from ocm_peers import write_providers

ZURICH = "https://cloud.zurich.test"
SHARE: dict[str, Any] = {
    "shareWith": "marie@paris.test", "name": "Physics", "description": "lecture notes",
    "providerId": "7c084226-d9a1-11e6-bf26-cec0c932ce01", "owner": "einstein@zurich.test",
    "sender": "einstein@zurich.test", "ownerDisplayName": "Albert Einstein",
    "senderDisplayName": "Albert Einstein", "shareType": "user", "resourceType": "folder",
    "protocol": {"name": "multi", "webdav": {
        "sharedSecret": "hfiuhworzwnur98d3wjiwhr", "permissions": ["read", "write"],
        "uri": f"{ZURICH}/dav/ocm/7c084226-d9a1-11e6-bf26-cec0c932ce01"}},
}


def changed(**fields: Any) -> dict[str, Any]:
    """SHARE with fields replaced (`protocol.webdav.x` paths reach inside; None deletes)."""
    body = copy.deepcopy(SHARE)
    for path, value in fields.items():
        *parents, last = path.split("__")
        target = body
        for key in parents:
            target = target[key]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return body


@pytest.fixture
async def paris(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedServer, aiohttp.ClientSession]]:
    providers = write_providers(tmp_path / "ocmproviders.json",
                                {"zurich.test": ZURICH, "lyon.test": "https://lyon.test"})
    config = make_test_config(tmp_path / "paris", OCIS_ENABLE_OCM="true", OCM_REQUIRE_INVITE="false", OCM_DOMAIN="paris.test",
                              OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(providers))
    async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
        yield srv, http


async def post(http: aiohttp.ClientSession, srv: EmbeddedServer, body: Any,
               **kwargs: Any) -> tuple[int, Any]:
    async with http.post(f"{srv.url}/ocm/shares", json=body, **kwargs) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def test_a_share_from_a_listed_provider_is_recorded_pending(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession]) -> None:
    srv, http = paris
    status, body = await post(http, srv, SHARE,
                              headers={"Authorization": "Basic bm9ib2R5Om5vcGU="})  # ignored
    assert (status, body) == (201, {})       # oCIS keeps the recipient's name to itself by default
    marie = await srv.ctx.users.get_by_name("marie")
    [share] = await federated.received(srv.ctx, marie)
    assert share.state == "pending" and share.id.startswith("ocm:")
    assert (share.provider, share.provider_id) == ("zurich.test", SHARE["providerId"])
    assert (share.owner, share.sender, share.sender_display_name) == (
        "einstein@zurich.test", "einstein@zurich.test", "Albert Einstein")
    assert (share.name, share.resource_type, share.permissions) == ("Physics", "folder",
                                                                     ("read", "write"))
    assert share.secret == "hfiuhworzwnur98d3wjiwhr"
    assert share.uri == SHARE["protocol"]["webdav"]["uri"] and share.expiration is None
    einstein = await srv.ctx.users.get_by_name("einstein")
    assert await federated.received(srv.ctx, einstein) == []     # only Marie received it
    with pytest.raises(NotFound):
        await federated.answer(srv.ctx, einstein, share.id, "accepted")
    accepted = (await federated.answer(srv.ctx, marie, share.id, "accepted")).value
    assert accepted.state == "accepted"
    # The same providerId again for Marie: 409; to Richard by bare user name (and a legacy
    # protocol body, with an expiry): recorded for him.
    assert (await post(http, srv, SHARE))[0] == 409
    legacy = changed(shareWith="richard", expiration=int(time.time()) + 3600,
                     protocol={"name": "webdav", "options": {"sharedSecret": "s2",
                                                             "uri": "7c084226"}})
    assert (await post(http, srv, legacy))[0] == 201
    [richards] = await federated.received(srv.ctx, await srv.ctx.users.get_by_name("richard"))
    assert richards.permissions == ("read",) and richards.uri == "7c084226"
    assert richards.expiration is not None


async def test_the_recipient_display_name_when_exposed(tmp_path: Path) -> None:
    providers = write_providers(tmp_path / "ocmproviders.json", {"zurich.test": ZURICH})
    config = make_test_config(tmp_path / "paris", OCIS_ENABLE_OCM="true", OCM_REQUIRE_INVITE="false", OCM_DOMAIN="paris.test",
                              OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(providers),
                              OCM_OCMD_EXPOSE_RECIPIENT_DISPLAY_NAME="true")
    async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
        assert await post(http, srv, SHARE) == (201, {"recipientDisplayName": "Marie Curie"})


@pytest.mark.parametrize("body, errors", [
    (changed(shareWith=None), [("shareWith", "MISSING")]),
    (changed(shareWith="", name=None, providerId=5),
     [("shareWith", "MISSING"), ("name", "MISSING"), ("providerId", "NOT_A_STRING")]),
    (changed(shareWith="nobody@paris.test"), [("shareWith", "NOT_FOUND")]),
    (changed(shareWith="marie@lyon.test"), [("shareWith", "NOT_FOUND")]),
    (changed(name="../etc"), [("name", "INVALID")]),
    (changed(name="x" * 300), [("name", "INVALID")]),
    (changed(shareType="robot"), [("shareType", "INVALID")]),
    (changed(owner="einstein"), [("owner", "NOT_A_FEDERATED_ID")]),
    (changed(owner="einstein@lyon.test"), [("owner", "NOT_AT_THE_SENDING_PROVIDER")]),
    (changed(expiration="tomorrow"), [("expiration", "INVALID")]),
    (changed(protocol=None), [("protocol", "MISSING")]),
    (changed(protocol=[]), [("protocol", "NOT_AN_OBJECT")]),
    (changed(protocol__webdav__sharedSecret=None), [("protocol.webdav.sharedSecret", "MISSING")]),
    (changed(protocol__webdav__uri=None), [("protocol.webdav.uri", "MISSING")]),
    (changed(protocol__webdav__permissions=["read", "admin"]),
     [("protocol.webdav.permissions", "INVALID")]),
    (changed(protocol__webdav__uri="https://evil.test/dav/ocm/x"),
     [("protocol.webdav.uri", "NOT_AT_THE_SENDING_PROVIDER")]),
    (changed(protocol__webdav__uri="http://cloud.zurich.test/dav/ocm/x"),    # not the listed https
     [("protocol.webdav.uri", "NOT_AT_THE_SENDING_PROVIDER")]),
    (changed(protocol__webdav__uri="https://lyon.test/dav/ocm/x"),         # another listed peer
     [("protocol.webdav.uri", "NOT_AT_THE_SENDING_PROVIDER")]),
    (changed(protocol__webdav__uri="../../../etc/passwd"),
     [("protocol.webdav.uri", "NOT_AT_THE_SENDING_PROVIDER")]),
    (changed(protocol__webdav__uri="//evil.test/x"),
     [("protocol.webdav.uri", "NOT_AT_THE_SENDING_PROVIDER")]),
    ([SHARE], [("body", "NOT_AN_OBJECT")]),
])
async def test_a_bad_field_is_400_with_validation_errors(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession], body: Any,
        errors: list[tuple[str, str]]) -> None:
    srv, http = paris
    status, answer = await post(http, srv, body)
    assert status == 400
    assert answer["validationErrors"] == [{"name": n, "message": m} for n, m in errors]
    assert answer["message"].startswith("INVALID_PARAMETERS")
    assert await federated.received(srv.ctx, await srv.ctx.users.get_by_name("marie")) == []


async def test_not_json_too_big_and_past_expiry(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession]) -> None:
    srv, http = paris
    async with http.post(f"{srv.url}/ocm/shares", data=b"{not json",
                         headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["validationErrors"] == [{"name": "body",
                                                            "message": "INVALID_JSON"}]
    status, answer = await post(http, srv, changed(description="x" * 100_000))
    assert status == 413 and set(answer) == {"message"}
    async def endless() -> AsyncIterator[bytes]:            # no Content-Length: chunked
        for _ in range(100):
            yield b" " * 4096

    async with http.post(f"{srv.url}/ocm/shares", data=endless(),
                         headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413 and set(await resp.json()) == {"message"}
    status, answer = await post(http, srv, changed(expiration=int(time.time()) - 60))
    assert status == 400 and "past" in answer["message"]


@pytest.mark.parametrize("body, reason", [
    (changed(shareType="group"), "SHARE_TYPE_NOT_SUPPORTED"),
    (changed(shareType="federation"), "SHARE_TYPE_NOT_SUPPORTED"),
    (changed(resourceType="calendar"), "RESOURCE_TYPE_NOT_SUPPORTED"),
    (changed(protocol={"name": "multi", "webapp": {"uriTemplate": "https://x", "viewMode": "read"}}),
     "PROTOCOL_NOT_SUPPORTED"),
    (changed(protocol__webdav__requirements=["mfa-enforced"]), "REQUIREMENTS_NOT_SUPPORTED"),
    (changed(protocol__webdav__sharedSecret=None, code="nonce"), "CODE_FLOW_NOT_SUPPORTED"),
])
async def test_what_is_not_offered_is_501(paris: tuple[EmbeddedServer, aiohttp.ClientSession],
                                          body: Any, reason: str) -> None:
    srv, http = paris
    status, answer = await post(http, srv, body)
    assert status == 501 and answer["message"].startswith(reason) and set(answer) == {"message"}


@pytest.mark.parametrize("sender", ["einstein@evil.test", "einstein@evilzurich.test",
                                    "einstein@zurich.test.evil", "einstein@sub.zurich.test",
                                    "einstein@paris.test"])
async def test_a_sender_whose_provider_is_not_listed_is_403(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession], sender: str) -> None:
    srv, http = paris
    status, answer = await post(http, srv, changed(sender=sender, owner=sender))
    assert status == 403 and answer == {
        "message": "PROVIDER_NOT_TRUSTED: the sender's provider is not a trusted OCM provider here"}
    assert await federated.received(srv.ctx, await srv.ctx.users.get_by_name("marie")) == []


async def notify(http: aiohttp.ClientSession, srv: EmbeddedServer, body: Any) -> tuple[int, Any]:
    async with http.post(f"{srv.url}/ocm/notifications", json=body) as resp:
        return resp.status, await resp.json()


UNSHARED = {"notificationType": "SHARE_UNSHARED", "resourceType": "folder",
            "providerId": SHARE["providerId"],
            "notification": {"sharedSecret": SHARE["protocol"]["webdav"]["sharedSecret"]}}


async def test_share_unshared_notification_removes_the_entry(
        paris: tuple[EmbeddedServer, aiohttp.ClientSession], tmp_path: Path) -> None:
    srv, http = paris
    assert (await post(http, srv, SHARE))[0] == 201
    marie = await srv.ctx.users.get_by_name("marie")
    for body, status, reason in [
        ({**UNSHARED, "providerId": None}, 400, [("providerId", "MISSING")]),
        ({"notification": 5}, 400, [("notificationType", "MISSING"), ("resourceType", "MISSING"),
                                    ("providerId", "MISSING"), ("notification", "NOT_AN_OBJECT")]),
        ({**UNSHARED, "notificationType": "BOOM"}, 400, [("notificationType", "INVALID")]),
        ({**UNSHARED, "notification": {}}, 400, [("notification.sharedSecret", "MISSING")]),
    ]:
        got, answer = await notify(http, srv, body)
        assert (got, answer["validationErrors"]) == (
            status, [{"name": n, "message": m} for n, m in reason]), body
    for body in ({**UNSHARED, "notificationType": "SHARE_ACCEPTED"},
                 {**UNSHARED, "resourceType": "calendar"}):
        got, answer = await notify(http, srv, body)
        assert got == 501 and answer["message"].startswith("NOTIFICATION_NOT_SUPPORTED")
    for body in ({**UNSHARED, "notification": {"sharedSecret": "guessed"}},
                 {**UNSHARED, "providerId": "another-share"}):
        assert await notify(http, srv, body) == (403, {
            "message": "NOT_AUTHORIZED: no such share with this secret"})
    assert len(await federated.received(srv.ctx, marie)) == 1          # still there
    assert await notify(http, srv, UNSHARED) == (201, {})
    assert await federated.received(srv.ctx, marie) == []
    assert (await notify(http, srv, UNSHARED))[0] == 403                 # gone: nothing to probe
    # A provider taken off the list cannot remove what it shared any more.
    assert (await post(http, srv, SHARE))[0] == 201
    write_providers(tmp_path / "ocmproviders.json", {"lyon.test": "https://lyon.test"})
    assert (await notify(http, srv, UNSHARED))[0] == 403
    assert len(await federated.received(srv.ctx, marie)) == 1
