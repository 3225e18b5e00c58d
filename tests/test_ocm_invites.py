"""OCM invitations between two real instances, as oCIS does them: Einstein at zurich makes an
invitation, Marie at paris accepts it at her server, which tells zurich (`POST
/ocm/invite-accepted` through the one client); from then on each is the other's federated
contact. Refusals carry reva's `{code, message}` bodies (oCIS acceptance tests apiOcm/*)."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

from ocm_peers import call, write_providers, zurich_and_paris

GENERATE, ACCEPT = "/sciencemesh/generate-invite", "/sciencemesh/accept-invite"
ACCEPTED, TOKENS = "/sciencemesh/find-accepted-users", "/sciencemesh/list-invite"


def fed_id(address: str) -> str:
    return base64.b64encode(address.encode()).decode()


async def test_invitation_round_trip(tmp_path: Path) -> None:
    async with zurich_and_paris(tmp_path) as (zurich, paris):
        status, discovery = await call(zurich, "GET", "/.well-known/ocm")
        assert status == 200 and "/invite-accepted" in discovery["capabilities"]

        status, invite = await call(zurich, "POST", GENERATE, "einstein",
                                    json={"description": "Physics with Marie"})
        assert status == 200, invite
        token = invite["token"]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            token), token    # a UUID as reva's: never a leading "-" for the CLI
        assert re.fullmatch(r"[0-9]{10}", str(invite["expiration"]))
        assert invite["description"] == "Physics with Marie"
        assert invite["invite_link"].endswith(f"providerDomain=zurich.test")
        status, listed = await call(zurich, "GET", TOKENS, "einstein")
        assert status == 200 and [t["token"] for t in listed] == [token]
        assert (await call(zurich, "GET", TOKENS, "richard"))[1] == []     # only one's own

        status, body = await call(paris, "POST", ACCEPT, "marie",
                                  json={"token": token, "providerDomain": "zurich.test"})
        assert status == 200, body
        status, mine = await call(paris, "GET", ACCEPTED, "marie")
        assert status == 200 and mine == [{"display_name": "Albert Einstein", "idp": "zurich.test",
                                           "user_id": fed_id("einstein@zurich.test"),
                                           "mail": "einstein@example.org"}]
        status, his = await call(zurich, "GET", ACCEPTED, "einstein")
        assert his == [{"display_name": "Marie Curie", "idp": "paris.test",
                        "user_id": fed_id("marie@paris.test"), "mail": "marie@example.org"}]
        assert (await call(zurich, "GET", ACCEPTED, "richard"))[1] == []

        # Twice by the same user: 409 as oCIS; another user may accept the same invitation.
        status, body = await call(paris, "POST", ACCEPT, "marie",
                                  data={"token": token, "providerDomain": "zurich.test"})
        assert (status, body) == (409, {"code": "ALREADY_EXIST", "message": "user already known"})
        status, body = await call(paris, "POST", ACCEPT, "richard",
                                  json={"token": token, "providerDomain": zurich.url})
        assert status == 200, body
        assert len((await call(zurich, "GET", ACCEPTED, "einstein"))[1]) == 2

        status, body = await call(paris, "POST", ACCEPT, "marie",
                                  json={"token": "no-such-token", "providerDomain": "zurich.test"})
        assert (status, body) == (404, {"code": "RESOURCE_NOT_FOUND", "message": "token not found"})
        status, body = await call(paris, "POST", ACCEPT, "marie",
                                  json={"token": token, "providerDomain": "lyon.test"})
        assert status == 403 and body["code"] == "UNTRUSTED_SERVICE"
        assert "lyon.test" in body["message"] and "ocmproviders.json" in body["message"]
        status, body = await call(paris, "POST", ACCEPT, "marie", json={"token": token})
        assert (status, body["code"]) == (400, "INVALID_PARAMETER")
        # An invitation of one's own instance: oCIS answers 409 and adds no contact.
        status, own = await call(zurich, "POST", GENERATE, "einstein")
        status, body = await call(zurich, "POST", ACCEPT, "einstein",
                                  json={"token": own["token"], "providerDomain": "zurich.test"})
        assert (status, body["message"]) == (409, "user already known")

        # Marie forgets Einstein; zurich keeps its side until Einstein forgets her too.
        status, _ = await call(paris, "DELETE", "/sciencemesh/delete-accepted-user", "marie",
                               json={"idp": "zurich.test", "user_id": fed_id("einstein@zurich.test")})
        assert status == 200
        assert (await call(paris, "GET", ACCEPTED, "marie"))[1] == []
        status, body = await call(paris, "DELETE", "/sciencemesh/delete-accepted-user", "marie",
                                  json={"idp": "zurich.test",
                                        "user_id": fed_id("einstein@zurich.test")})
        assert (status, body["code"]) == (404, "RESOURCE_NOT_FOUND")


async def test_invite_accepted_refuses_strangers(tmp_path: Path) -> None:
    async with zurich_and_paris(tmp_path) as (zurich, paris):
        status, invite = await call(zurich, "POST", GENERATE, "einstein")
        token = invite["token"]
        # Not signed in: the /sciencemesh endpoints are for our users.
        status, body = await call(zurich, "POST", GENERATE)
        assert status == 401 and body["code"] == "UNAUTHENTICATED"
        base = {"token": token, "userID": "mallory", "name": "Mallory", "email": "m@evil.test"}
        # Server to server needs no login, but the recipient's provider must be listed: a forged
        # or look-alike domain is refused and adds no contact.
        for forged in ("evilparis.test", "paris.test.evil", "x.paris.test", "lyon.test",
                       "https://paris.test/ocm", "paris.test:443", "zurich.test"):
            status, body = await call(zurich, "POST", "/ocm/invite-accepted",
                                      json={**base, "recipientProvider": forged})
            assert (status, body) == (403, {"code": "UNTRUSTED_SERVICE",
                                            "message": "provider not trusted"}), forged
        for missing in ("token", "userID", "recipientProvider"):
            fields = {**base, "recipientProvider": "paris.test"}
            del fields[missing]
            status, body = await call(zurich, "POST", "/ocm/invite-accepted", json=fields)
            assert status == 400 and body["code"] == "INVALID_PARAMETER", missing
        status, body = await call(zurich, "POST", "/ocm/invite-accepted", data=b"{not json",
                                  headers={"Content-Type": "application/json"})
        assert (status, body["code"]) == (400, "INVALID_PARAMETER")
        status, body = await call(zurich, "POST", "/ocm/invite-accepted",
                                  json={**base, "recipientProvider": "paris.test",
                                        "token": "forged"})
        assert (status, body["message"]) == (404, "token not found")
        assert (await call(zurich, "GET", ACCEPTED, "einstein"))[1] == []
        # The listed provider with the real token: the answer names the inviter.
        status, body = await call(zurich, "POST", "/ocm/invite-accepted",
                                  json={**base, "recipientProvider": "paris.test"})
        assert (status, body) == (200, {"userID": "einstein", "email": "einstein@example.org",
                                        "name": "Albert Einstein"})
        status, body = await call(zurich, "POST", GENERATE, "einstein",
                                  json={"recipient": "user@domain..com"})
        assert (status, body["code"]) == (400, "INVALID_PARAMETER")
        status, body = await call(zurich, "POST", GENERATE, "einstein",
                                  json={"recipient": "user.bob+123@domain.test-123.com"})
        assert status == 200 and body["recipient"] == "user.bob+123@domain.test-123.com"


async def test_expired_invitation(tmp_path: Path) -> None:
    async with zurich_and_paris(tmp_path, OCM_OCM_INVITE_MANAGER_TOKEN_EXPIRATION="1s") as (
            zurich, paris):
        status, invite = await call(zurich, "POST", GENERATE, "einstein")
        assert status == 200
        await asyncio.sleep(1.2)
        assert (await call(zurich, "GET", TOKENS, "einstein"))[1] == []
        status, body = await call(paris, "POST", ACCEPT, "marie",
                                  json={"token": invite["token"], "providerDomain": "zurich.test"})
        assert status == 400 and body["code"] == "INVALID_PARAMETER"
        assert body["message"].startswith("token not valid")
        assert (await call(paris, "GET", ACCEPTED, "marie"))[1] == []


async def test_verify_request_hostname(tmp_path: Path) -> None:
    """OCM_OCM_PROVIDER_AUTHORIZER_VERIFY_REQUEST_HOSTNAME: the caller of /ocm/invite-accepted
    must come from an address of the provider it claims to be (its listed hosts)."""
    async with zurich_and_paris(tmp_path, zurich_env={
            "OCM_OCM_PROVIDER_AUTHORIZER_VERIFY_REQUEST_HOSTNAME": "true"}) as (zurich, paris):
        status, invite = await call(zurich, "POST", GENERATE, "einstein")
        status, body = await call(paris, "POST", ACCEPT, "marie",
                                  json={"token": invite["token"], "providerDomain": "zurich.test"})
        assert status == 200, body               # paris calls from 127.0.0.1, where it is listed
        # paris.test listed on another address (127.0.0.2): a caller on 127.0.0.1 claiming to be
        # paris.test is not it.
        port = paris.url.rsplit(":", 1)[1]
        write_providers(Path(zurich.config.ocm_providers_file),
                        {"paris.test": f"http://127.0.0.2:{port}"})
        status, body = await call(zurich, "POST", "/ocm/invite-accepted",
                                  json={"token": invite["token"], "userID": "richard",
                                        "recipientProvider": "paris.test", "name": "R",
                                        "email": "r@example.org"})
        assert (status, body) == (403, {"code": "UNTRUSTED_SERVICE",
                                        "message": "provider not trusted"})
        assert [c["idp"] for c in (await call(zurich, "GET", ACCEPTED, "einstein"))[1]] == [
            "paris.test"]                           # Marie only
