"""Webfinger (RFC 7033, oCIS services/webfinger): anyone learns the OIDC issuer of an account on this
host; only the account itself, authenticated with an OIDC token, also learns its instance."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from ocis_server.auth.keys import KeySet
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

pytestmark = pytest.mark.asyncio(loop_scope="module")
ISSUER_REL = "http://openid.net/specs/connect/1.0/issuer"
INSTANCE_REL = "http://webfinger.owncloud/rel/server-instance"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    base = tmp_path_factory.mktemp("webfinger")
    async with embedded_server(make_test_config(base), only=["webfinger", "graph"]) as server:
        server.ctx.keys = await KeySet.open(base / "keys")
        yield server


def bearer(srv: EmbeddedServer, username: str, user_id: str) -> str:
    now = int(time.time())
    assert srv.ctx.keys is not None
    return "Bearer " + srv.ctx.keys.sign({"iss": srv.config.ocis_url, "aud": "web", "sub": user_id,
                                          "preferred_username": username, "iat": now,
                                          "exp": now + 300, "client_id": "web",
                                          "scope": "openid profile"})


async def finger(srv: EmbeddedServer, query: str, auth: str | None = None) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = {"Authorization": auth} if auth else {}
    url = f"{srv.url}/.well-known/webfinger?{query}"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


def host(srv: EmbeddedServer) -> str:
    return urlsplit(srv.url).netloc


async def test_anonymous_lookup_gives_the_issuer_only(srv: EmbeddedServer) -> None:
    for resource in (f"acct:einstein@{host(srv)}", srv.url, f"acct:nosuchuser@{host(srv)}"):
        status, body, headers = await finger(srv, "resource=" + quote(resource, safe=""))
        assert status == 200, body
        assert headers["Content-Type"].startswith("application/jrd+json")
        assert body == {"subject": resource,
                        "links": [{"rel": ISSUER_REL, "href": srv.config.ocis_url.rstrip("/")}]}


async def test_bearer_self_lookup_adds_the_instance(srv: EmbeddedServer) -> None:
    einstein = await srv.ctx.users.get_by_name("einstein")
    auth = bearer(srv, "einstein", einstein.id)
    status, body, _ = await finger(srv, "resource=" + quote(f"acct:einstein@{host(srv)}"), auth)
    assert status == 200
    rels = {link["rel"]: link for link in body["links"]}
    assert rels[INSTANCE_REL]["href"] == srv.url and rels[INSTANCE_REL]["titles"] == {"en": "oCIS Instance"}
    # asking about someone else reveals nothing more than anonymously
    status, body, _ = await finger(srv, "resource=" + quote(f"acct:marie@{host(srv)}"), auth)
    assert [link["rel"] for link in body["links"]] == [ISSUER_REL]
    # rel filter (RFC 7033 §4.3)
    status, body, _ = await finger(srv, "resource=" + quote(srv.url) + "&rel=" + quote(INSTANCE_REL), auth)
    assert [link["rel"] for link in body["links"]] == [INSTANCE_REL]


async def test_basic_auth_does_not_unlock_instances(srv: EmbeddedServer) -> None:
    auth = "Basic " + base64.b64encode(b"einstein:relativity").decode()
    status, body, _ = await finger(srv, "resource=" + quote(f"acct:einstein@{host(srv)}"), auth)
    assert status == 200 and [link["rel"] for link in body["links"]] == [ISSUER_REL]


@pytest.mark.parametrize("query,status", [
    ("", 400), ("resource=", 400), ("resource=a&resource=b", 400),
    ("resource=" + quote("acct:einstein@elsewhere.example"), 404),
    ("resource=" + quote("https://elsewhere.example"), 404),
    ("resource=" + quote("acct:nobody"), 404), ("resource=mailto%3Ax", 404),
    ("resource=" + "x" * 3000, 400),
])
async def test_bad_resources(srv: EmbeddedServer, query: str, status: int) -> None:
    got, body, _ = await finger(srv, query)
    assert got == status and "error" in body


async def test_instance_rules_pick_the_instance_from_claims(tmp_path_factory: pytest.TempPathFactory) -> None:
    rules = ('[{"claim": "email", "regex": "einstein@.*", "href": "https://{{.preferred_username}}.'
             'cloud.test", "title": {"en": "Einstein\'s", "de": "Einsteins"}, "break": true},'
             '{"claim": "sub", "regex": ".+", "href": "https://shared.cloud.test"}]')
    base = tmp_path_factory.mktemp("webfinger-rules")
    config = make_test_config(base, WEBFINGER_INSTANCES=rules)
    async with embedded_server(config, only=["webfinger"]) as other:
        other.ctx.keys = await KeySet.open(base / "keys")
        now = int(time.time())

        def token(username: str, email: str) -> str:
            assert other.ctx.keys is not None
            return "Bearer " + other.ctx.keys.sign({
                "iss": other.config.ocis_url, "aud": "web", "sub": username, "email": email,
                "preferred_username": username, "iat": now, "exp": now + 300,
                "client_id": "web", "scope": "openid profile email"})

        status, body, _ = await finger(other, "resource=" + quote(other.url),
                                       token("einstein", "einstein@example.org"))
        assert status == 200
        instances = [link for link in body["links"] if link["rel"] == INSTANCE_REL]
        assert instances == [{"rel": INSTANCE_REL, "href": "https://einstein.cloud.test",
                              "titles": {"en": "Einstein's", "de": "Einsteins"}}]
        status, body, _ = await finger(other, "resource=" + quote(other.url),
                                       token("marie", "marie@example.org"))
        assert [link["href"] for link in body["links"] if link["rel"] == INSTANCE_REL] == [
            "https://shared.cloud.test"]
