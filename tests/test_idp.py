"""The embedded OpenID Connect provider in process: discovery, code + PKCE through the sign-in
pages, token claims, refresh rotation, userinfo, end-session, and what it refuses."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oidc.discovery import OpenIDProviderMetadata
from idp_helpers import ISSUER, Flow, forms, idp_root, make_context, query_of
from joserfc import jwt
from joserfc.jwk import KeySet as JoseKeySet

from ocis_server.services.context import ServiceContext
from ocis_server.services.idp.clients import (
    ANDROID_ID,
    ANDROID_SECRET,
    DESKTOP_ID,
    DESKTOP_SECRET,
    IOS_ID,
    IOS_SECRET,
)


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[ServiceContext]:
    context = await make_context(tmp_path)
    einstein = await context.users.create(username="einstein", password="relativity",
                                          display_name="Albert Einstein",
                                          email="einstein@example.org")
    group = await context.users.create_group(name="physics-lovers")
    await context.users.add_member(group.id, einstein.id)
    await context.users.create(username="moss", password="vista", role="admin")
    yield context
    await context.users.close()


@pytest.fixture
async def client(aiohttp_client: Any, ctx: ServiceContext) -> Any:
    return await aiohttp_client(idp_root(ctx))


async def decode(client: Any, token: str) -> dict[str, Any]:
    jwks = await (await client.get("/konnect/v1/jwks.json")).json()
    return dict(jwt.decode(token, JoseKeySet.import_key_set(jwks)).claims)


async def test_discovery_names_lico_paths_and_the_device_page(client: Any, monkeypatch: Any) -> None:
    resp = await client.get("/.well-known/openid-configuration")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == ISSUER + "/signin/v1/identifier/_/authorize"
    assert doc["token_endpoint"] == ISSUER + "/konnect/v1/token"
    assert doc["userinfo_endpoint"] == ISSUER + "/konnect/v1/userinfo"
    assert doc["jwks_uri"] == ISSUER + "/konnect/v1/jwks.json"
    assert doc["end_session_endpoint"] == ISSUER + "/signin/v1/identifier/_/endsession"
    assert doc["device_authorization_endpoint"] == ISSUER + "/konnect/v1/device_authorization"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")   # http issuer in this test only
    OpenIDProviderMetadata(doc).validate()


async def test_code_flow_with_pkce_issues_signed_tokens(client: Any, ctx: ServiceContext) -> None:
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
    einstein = await ctx.users.get_by_name("einstein")
    access = await decode(client, tokens["access_token"])
    assert access["iss"] == ISSUER and access["aud"] == "ocis-cli"
    assert access["sub"] == einstein.id and access["preferred_username"] == "einstein"
    assert access["email"] == "einstein@example.org" and access["name"] == "Albert Einstein"
    assert access["groups"] == ["physics-lovers"] and access["roles"] == ["ocisUser"]
    assert access["client_id"] == "ocis-cli" and "offline_access" in access["scope"]
    assert access["exp"] - access["iat"] == 300 and access["jti"]
    ident = await decode(client, tokens["id_token"])
    assert ident["aud"] == "ocis-cli" and ident["nonce"] == "n-0S6" and ident["sub"] == einstein.id
    header = jwt.decode(tokens["id_token"], JoseKeySet.import_key_set(
        await (await client.get("/konnect/v1/jwks.json")).json())).header
    assert header["alg"] == "RS256" and header["kid"] == ctx.keys.kid  # type: ignore[union-attr]


async def test_code_is_single_use_and_replay_revokes_refresh(client: Any) -> None:
    flow = Flow(client)
    code = await flow.code()
    tokens = await flow.exchange(code)
    again = await flow.exchange(code, status=400)
    assert again["error"] == "invalid_grant"
    resp = await client.post("/konnect/v1/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "ocis-cli"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"


async def test_wrong_verifier_and_redirect_are_refused(client: Any) -> None:
    flow = Flow(client)
    code = await flow.code()
    bad = await flow.exchange(code, status=400, code_verifier="x" * 50)
    assert bad["error"] == "invalid_grant"
    flow2 = Flow(client)
    code2 = await flow2.code()
    bad2 = await flow2.exchange(code2, status=400, redirect_uri="http://127.0.0.1:1/other")
    assert bad2["error"] == "invalid_grant"


async def test_refresh_rotates_and_reuse_revokes_the_family(client: Any) -> None:
    flow = Flow(client)
    first = await flow.exchange(await flow.code())

    async def refresh(token: str) -> Any:
        return await client.post("/konnect/v1/token", data={
            "grant_type": "refresh_token", "refresh_token": token, "client_id": "ocis-cli"})

    resp = await refresh(first["refresh_token"])
    assert resp.status == 200
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"]
    reuse = await refresh(first["refresh_token"])          # the rotated one comes back: theft
    assert reuse.status == 400
    assert (await refresh(second["refresh_token"])).status == 400  # the family is revoked


async def test_userinfo(client: Any) -> None:
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    resp = await client.get("/konnect/v1/userinfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert resp.status == 200
    info = await resp.json()
    assert info["preferred_username"] == "einstein" and info["groups"] == ["physics-lovers"]
    forged = tokens["access_token"][:-4] + ("AAAA" if not tokens["access_token"].endswith("AAAA")
                                            else "BBBB")
    resp = await client.get("/konnect/v1/userinfo", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401 and "invalid_token" in resp.headers["WWW-Authenticate"]
    # an id token is not an access token
    resp = await client.get("/konnect/v1/userinfo",
                            headers={"Authorization": f"Bearer {tokens['id_token']}"})
    assert resp.status == 401


async def test_unknown_client_and_foreign_redirect_get_a_page_not_a_redirect(client: Any) -> None:
    for params in ("client_id=nope&redirect_uri=http://127.0.0.1:1/cb",
                   "client_id=web&redirect_uri=https://evil.example/cb",
                   "client_id=ocis-cli&redirect_uri=http://evil.example:80/cb",
                   "client_id=ocis-cli&redirect_uri=http://127.0.0.1.evil.example/cb"):
        resp = await client.get("/signin/v1/identifier/_/authorize?response_type=code&" + params,
                                allow_redirects=False)
        assert resp.status == 400 and "Location" not in resp.headers


async def test_public_client_must_use_pkce_s256(client: Any) -> None:
    flow = Flow(client)
    url = flow.authorize_url().replace("code_challenge_method=S256", "code_challenge_method=plain")
    resp = await client.get(url, allow_redirects=False)
    assert resp.status == 302 and query_of(resp.headers["Location"])["error"] == "invalid_request"
    url = flow.authorize_url().split("&code_challenge=")[0]
    resp = await client.get(url, allow_redirects=False)
    assert query_of(resp.headers["Location"])["error"] == "invalid_request"


async def test_desktop_client_needs_its_secret_and_is_asked_for_consent(client: Any) -> None:
    flow = Flow(client, client_id=DESKTOP_ID, redirect_uri="http://localhost:40123",
                extra={"prompt": "consent"})
    resp = await flow.login("einstein", "relativity")
    resp = await client.get(resp.headers["Location"], allow_redirects=False)
    assert resp.status == 200 and "ownCloud desktop app" in await resp.text()
    form = forms(await resp.text())["consent"]
    resp = await client.post(form["action"], data={**form["fields"], "decision": "allow"},
                             allow_redirects=False)
    code = query_of(resp.headers["Location"])["code"]
    refused = await flow.exchange(code, status=401)
    assert refused["error"] == "invalid_client"
    code = await flow.code()
    tokens = await flow.exchange(code, client_secret=DESKTOP_SECRET)
    assert tokens["access_token"]


async def test_consent_denied_redirects_access_denied(client: Any) -> None:
    flow = Flow(client, extra={"prompt": "consent"})
    resp = await flow.login("einstein", "relativity")
    resp = await client.get(resp.headers["Location"], allow_redirects=False)
    form = forms(await resp.text())["consent"]
    resp = await client.post(form["action"], data={**form["fields"], "decision": "deny"},
                             allow_redirects=False)
    assert query_of(resp.headers["Location"])["error"] == "access_denied"


async def test_login_without_csrf_token_is_refused(client: Any) -> None:
    flow = Flow(client)
    page = await client.get(flow.authorize_url())
    form = forms(await page.text())["login"]
    data = {**form["fields"], "username": "einstein", "password": "relativity", "csrf": "x" * 43}
    resp = await client.post(form["action"], data=data, allow_redirects=False)
    assert resp.status == 403 and "ocis-idp-session" not in resp.cookies


async def test_continue_cannot_leave_the_idp(client: Any) -> None:
    flow = Flow(client)
    page = await client.get(flow.authorize_url())
    form = forms(await page.text())["login"]
    for target in ("https://evil.example/", "//evil.example/signin/", "/graph/v1.0/me"):
        data = {**form["fields"], "continue": target, "username": "einstein",
                "password": "relativity"}
        resp = await client.post(form["action"], data=data, allow_redirects=False)
        assert resp.status == 400 and "Location" not in resp.headers


async def test_failed_logins_are_throttled_per_account(client: Any) -> None:
    flow = Flow(client)
    for _ in range(5):
        resp = await flow.login("einstein", "wrong")
        assert resp.status == 200 and "Wrong user name or password" in await resp.text()
    resp = await flow.login("einstein", "relativity")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0


async def test_prompt_none_without_session(client: Any) -> None:
    flow = Flow(client, extra={"prompt": "none"})
    resp = await client.get(flow.authorize_url(), allow_redirects=False)
    assert resp.status == 302 and query_of(resp.headers["Location"])["error"] == "login_required"


async def test_session_is_reused_then_ended(client: Any) -> None:
    flow = Flow(client)
    await flow.exchange(await flow.code())
    again = Flow(client)                            # signed in: straight back with a code
    resp = await client.get(again.authorize_url(), allow_redirects=False)
    assert resp.status == 302 and "code" in query_of(resp.headers["Location"])
    resp = await client.get("/signin/v1/identifier/_/endsession?client_id=ocis-cli&"
                            "post_logout_redirect_uri=https://evil.example/", allow_redirects=False)
    assert resp.status == 200 and "Location" not in resp.headers
    resp = await client.get(Flow(client).authorize_url(), allow_redirects=False)
    assert resp.status == 200 and "login" in forms(await resp.text())


async def test_endsession_returns_to_registered_uri_only(client: Any) -> None:
    resp = await client.get("/signin/v1/identifier/_/endsession?client_id=web&state=s1&"
                            f"post_logout_redirect_uri={ISSUER}/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == f"{ISSUER}/?state=s1"


async def test_token_endpoint_bad_input(client: Any) -> None:
    resp = await client.post("/konnect/v1/token", json={"grant_type": "authorization_code"})
    assert resp.status == 400
    resp = await client.post("/konnect/v1/token", data={"grant_type": "password",
                                                         "client_id": "ocis-cli"})
    assert resp.status == 400 and (await resp.json())["error"] == "unsupported_grant_type"
    resp = await client.post("/konnect/v1/token", data={"grant_type": "authorization_code",
                                                         "client_id": "who"})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    resp = await client.post("/konnect/v1/token", data={"grant_type": "authorization_code"},
                             headers={"Authorization": "Basic !!!"})
    assert resp.status == 401


async def test_token_lifetimes_follow_the_config(tmp_path: Path, aiohttp_client: Any) -> None:
    ctx = await make_context(tmp_path, IDP_ACCESS_TOKEN_EXPIRATION="7", IDP_ID_TOKEN_EXPIRATION="9")
    await ctx.users.create(username="einstein", password="relativity")
    client = await aiohttp_client(idp_root(ctx))
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    assert tokens["expires_in"] == 7
    access = await decode(client, tokens["access_token"])
    ident = await decode(client, tokens["id_token"])
    assert access["exp"] - access["iat"] == 7 and ident["exp"] - ident["iat"] == 9
    await ctx.users.close()


async def test_keys_persist_and_rotate(tmp_path: Path, aiohttp_client: Any) -> None:
    ctx = await make_context(tmp_path)
    await ctx.users.create(username="einstein", password="relativity")
    client = await aiohttp_client(idp_root(ctx))
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    assert ctx.keys is not None
    old_kid = ctx.keys.kid
    assert (tmp_path / "data" / "idp" / "private-key.pem").stat().st_mode & 0o077 == 0
    new_kid = await ctx.keys.rotate()
    jwks = await (await client.get("/konnect/v1/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]
    resp = await client.get("/konnect/v1/userinfo",     # a token of the retired key still works
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert resp.status == 200
    await ctx.users.close()


async def test_key_rotates_on_schedule_and_old_tokens_keep_working(tmp_path: Path,
                                                                   aiohttp_client: Any) -> None:
    ctx = await make_context(tmp_path, IDP_KEY_ROTATION_INTERVAL="1")
    await ctx.users.create(username="einstein", password="relativity")
    client = await aiohttp_client(idp_root(ctx))
    flow = Flow(client)
    before = await flow.exchange(await flow.code())
    assert ctx.keys is not None
    old_kid = ctx.keys.kid
    for _ in range(50):
        jwks = await (await client.get("/konnect/v1/jwks.json")).json()
        if len(jwks["keys"]) == 2:
            break
        await asyncio.sleep(0.1)
    assert [k["kid"] for k in jwks["keys"]][1:] == [old_kid]
    resp = await client.get("/konnect/v1/userinfo",
                            headers={"Authorization": f"Bearer {before['access_token']}"})
    assert resp.status == 200
    flow2 = Flow(client)
    after = await flow2.exchange(await flow2.code())
    jwks = await (await client.get("/konnect/v1/jwks.json")).json()
    header = jwt.decode(after["access_token"], JoseKeySet.import_key_set(jwks)).header
    assert header["kid"] != old_kid and old_kid in [k["kid"] for k in jwks["keys"]]
    await ctx.users.close()


async def test_forwarded_for_does_not_reset_the_address_throttle(client: Any) -> None:
    """Different accounts from one address: the address locks, whatever X-Forwarded-For says."""
    flow = Flow(client)
    page = await client.get(flow.authorize_url())
    form = forms(await page.text())["login"]
    for n in range(5):
        resp = await client.post(form["action"], allow_redirects=False,
                                 headers={"X-Forwarded-For": f"10.0.0.{n}"},
                                 data={**form["fields"], "username": f"nobody{n}", "password": "x"})
        assert resp.status == 200
    resp = await client.post(form["action"], allow_redirects=False,
                             headers={"X-Forwarded-For": "10.9.9.9"},
                             data={**form["fields"], "username": "einstein",
                                   "password": "relativity"})
    assert resp.status == 429


async def test_repeated_parameters_are_refused(client: Any) -> None:
    url = Flow(client).authorize_url() + "&client_id=web"
    resp = await client.get(url, allow_redirects=False)
    assert resp.status == 400 and "Location" not in resp.headers
    resp = await client.post("/konnect/v1/token", data=[("grant_type", "refresh_token"),
                                                        ("client_id", "ocis-cli"),
                                                        ("refresh_token", "a"),
                                                        ("refresh_token", "b")])
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_ps256_as_ocis_signs(tmp_path: Path, aiohttp_client: Any) -> None:
    ctx = await make_context(tmp_path, IDP_SIGNING_METHOD="PS256")
    await ctx.users.create(username="einstein", password="relativity")
    client = await aiohttp_client(idp_root(ctx))
    doc = await (await client.get("/.well-known/openid-configuration")).json()
    assert doc["id_token_signing_alg_values_supported"] == ["PS256"]
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    jwks = await (await client.get("/konnect/v1/jwks.json")).json()
    assert jwks["keys"][0]["alg"] == "PS256"
    decoded = jwt.decode(tokens["id_token"], JoseKeySet.import_key_set(jwks), algorithms=["PS256"])
    assert decoded.header["alg"] == "PS256"
    await ctx.users.close()


async def test_userinfo_refuses_wrong_audience_issuer_and_expiry(client: Any,
                                                                 ctx: ServiceContext) -> None:
    assert ctx.keys is not None
    await ctx.keys.load()              # read with the IdP's first request; this test signs first
    einstein = await ctx.users.get_by_name("einstein")
    now = int(time.time())
    good = {"iss": ISSUER, "aud": "ocis-cli", "sub": einstein.id, "iat": now, "exp": now + 60,
            "client_id": "ocis-cli", "scope": "openid"}
    resp = await client.get("/konnect/v1/userinfo",
                            headers={"Authorization": f"Bearer {ctx.keys.sign(good)}"})
    assert resp.status == 200
    for bad in ({"aud": "someone-else"}, {"iss": "https://evil.example"}, {"exp": now - 1},
                {"sub": "no-such-user"}):
        token = ctx.keys.sign({**good, **bad})
        resp = await client.get("/konnect/v1/userinfo",
                                headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401, bad
        assert (await resp.json()) == {"error": "invalid_token",
                                       "error_description": "the access token is invalid or expired"}


@pytest.mark.parametrize(("path", "ctype", "body", "status"), [
    ("/signin/v1/identifier/_/login", "multipart/form-data", b"garbage", 415),
    ("/signin/v1/identifier/_/login", "multipart/form-data; boundary=x", b"--x\r\nbad\r\n", 415),
    ("/signin/v1/identifier/_/login", "application/x-www-form-urlencoded", b"%ff%fe=1&csrf", 400),
    ("/signin/v1/identifier/_/login", "application/x-www-form-urlencoded", b"a=1&" * 40, 400),
    ("/signin/v1/device", "application/x-www-form-urlencoded", b"user_code=" + b"x" * 70000, 413),
    ("/konnect/v1/token", "application/x-www-form-urlencoded", b"\xff\xfe=\x00", 400),
    ("/konnect/v1/token", "text/plain", b"grant_type=refresh_token", 400),
])
async def test_malformed_forms_are_4xx_never_500(client: Any, path: str, ctype: str, body: bytes,
                                                 status: int) -> None:
    resp = await client.post(path, data=body, headers={"Content-Type": ctype},
                             allow_redirects=False)
    assert resp.status == status
    assert "Traceback" not in await resp.text()


async def test_no_header_injection_through_redirects(client: Any) -> None:
    url = Flow(client, redirect_uri="http://127.0.0.1:1/cb\r\nSet-Cookie: x=1").authorize_url()
    resp = await client.get(url, allow_redirects=False)
    assert resp.status == 400 and "Location" not in resp.headers
    flow = Flow(client)
    page = await client.get(flow.authorize_url())
    form = forms(await page.text())["login"]
    for target in ("/signin/v1/device\r\nSet-Cookie: x=1", "/signin/../graph/v1.0/me"):
        resp = await client.post(form["action"], allow_redirects=False, data={
            **form["fields"], "continue": target, "username": "einstein",
            "password": "relativity"})
        assert resp.status == 400 and "Location" not in resp.headers


@pytest.mark.parametrize(("client_id", "secret", "redirect_uri"), [
    ("web", None, f"{ISSUER}/oidc-callback.html"),
    (ANDROID_ID, ANDROID_SECRET, "oc://android.owncloud.com"),
    (IOS_ID, IOS_SECRET, "oc.ios://ios.owncloud.com"),
    (DESKTOP_ID, DESKTOP_SECRET, "http://127.0.0.1:34567"),
    ("ocis-cli", None, "http://[::1]:8080/callback"),
])
async def test_builtin_clients_as_ocis_ships_them(client: Any, client_id: str, secret: str | None,
                                                  redirect_uri: str) -> None:
    flow = Flow(client, client_id=client_id, redirect_uri=redirect_uri)
    extra = {"client_secret": secret} if secret else {}
    tokens = await flow.exchange(await flow.code(), **extra)
    assert (await decode(client, tokens["access_token"]))["aud"] == client_id


@pytest.mark.parametrize(("client_id", "redirect_uri"), [
    ("web", "http://127.0.0.1:9999/oidc-callback.html"),     # web is not a native app
    ("web", f"{ISSUER}/oidc-callback.html?x=1"),
    (ANDROID_ID, "oc://android.owncloud.com.evil"),
    (DESKTOP_ID, "https://127.0.0.1:34567"),                 # loopback means http
    ("ocis-cli", "http://user@127.0.0.1:1/cb"),
])
async def test_redirects_match_exactly_or_loopback(client: Any, client_id: str,
                                                   redirect_uri: str) -> None:
    url = Flow(client, client_id=client_id, redirect_uri=redirect_uri).authorize_url()
    resp = await client.get(url, allow_redirects=False)
    assert resp.status == 400 and "Location" not in resp.headers


async def test_revocation_ends_the_refresh_family(client: Any) -> None:
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    resp = await client.post("/konnect/v1/revocation", data={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token",
        "client_id": "ocis-cli"})
    assert resp.status == 200
    resp = await client.post("/konnect/v1/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "ocis-cli"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"
    resp = await client.post("/konnect/v1/revocation", data={"token": "unknown",
                                                             "client_id": "ocis-cli"})
    assert resp.status == 200                      # RFC 7009 §2.2: unknown tokens too


# --- on authlib's server framework ----------------------------------------------------------------
def test_authlib_jose_is_never_imported() -> None:
    """The IdP signs with joserfc: importing it must not pull in authlib's deprecated jose."""
    code = ("import sys, ocis_server.services.idp.app, ocis_server.services.idp.oauth; "
            "print(sorted(m for m in sys.modules if m.startswith('authlib.jose')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_no_authlib_deprecation_warning_in_any_flow(client: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flow = Flow(client, extra={"prompt": "consent"})
        tokens = await flow.exchange(await flow.code())
        resp = await client.post("/konnect/v1/token", data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "ocis-cli"})
        assert resp.status == 200
        resp = await client.post("/konnect/v1/device_authorization", data={"client_id": "ocis-cli"})
        assert resp.status == 200
        resp = await client.post("/konnect/v1/revocation", data={
            "token": (await resp.json())["device_code"], "client_id": "ocis-cli"})
        assert resp.status == 200
        denied = Flow(client, extra={"prompt": "none"}, client_id=DESKTOP_ID,
                      redirect_uri="http://127.0.0.1:4000")
        resp = await client.get(denied.authorize_url(), allow_redirects=False)
        assert query_of(resp.headers["Location"])["error"] == "consent_required"
    assert [str(w.message) for w in caught if issubclass(w.category, AuthlibDeprecationWarning)] == []


async def test_prompt_none_for_an_untrusted_client_is_consent_required(client: Any) -> None:
    flow = Flow(client)
    await flow.exchange(await flow.code())                 # signed in now
    desktop = Flow(client, client_id=DESKTOP_ID, redirect_uri="http://127.0.0.1:4000",
                   extra={"prompt": "none"})
    resp = await client.get(desktop.authorize_url(), allow_redirects=False)
    query = query_of(resp.headers["Location"])
    assert resp.status == 302 and query["error"] == "consent_required"
    assert query["state"] == desktop.state and query["iss"] == ISSUER
    both = Flow(client, extra={"prompt": "none login"})
    resp = await client.get(both.authorize_url(), allow_redirects=False)
    assert query_of(resp.headers["Location"])["error"] == "invalid_request"


async def test_pkce_needs_the_s256_method_named(client: Any) -> None:
    flow = Flow(client)
    url = flow.authorize_url().replace("&code_challenge_method=S256", "")
    resp = await client.get(url, allow_redirects=False)
    assert resp.status == 302 and query_of(resp.headers["Location"])["error"] == "invalid_request"
    code = await flow.code()
    missing = await flow.exchange(code, status=400, code_verifier="")
    assert missing["error"] == "invalid_request"


async def test_confidential_client_with_basic_auth(client: Any) -> None:
    flow = Flow(client, client_id=DESKTOP_ID, redirect_uri="http://127.0.0.1:34567",
                extra={"prompt": "consent"})
    code = await flow.code()
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"{DESKTOP_ID}:{DESKTOP_SECRET}".encode()).decode()}
    resp = await client.post("/konnect/v1/token", headers=basic, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
        "code_verifier": flow.verifier, "client_id": "web"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    code = await flow.code()
    resp = await client.post("/konnect/v1/token", headers=basic, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
        "code_verifier": flow.verifier})
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    tokens = await resp.json()
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{DESKTOP_ID}:nope".encode()).decode()}
    resp = await client.post("/konnect/v1/token", headers=wrong, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
    resp = await client.post("/konnect/v1/token", headers=basic, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert resp.status == 200


async def test_refresh_may_narrow_the_scope_never_widen_it(client: Any) -> None:
    flow = Flow(client, scope="openid profile offline_access")
    tokens = await flow.exchange(await flow.code())

    async def refresh(token: str, scope: str) -> Any:
        return await client.post("/konnect/v1/token", data={
            "grant_type": "refresh_token", "refresh_token": token, "client_id": "ocis-cli",
            "scope": scope})

    resp = await refresh(tokens["refresh_token"], "openid")
    assert resp.status == 200
    narrowed = await resp.json()
    assert narrowed["scope"] == "openid" and narrowed["id_token"]
    assert (await decode(client, narrowed["access_token"]))["scope"] == "openid"
    resp = await refresh(narrowed["refresh_token"], "openid email")
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_scope"


async def test_revocation_by_another_client_is_refused(client: Any) -> None:
    flow = Flow(client)
    tokens = await flow.exchange(await flow.code())
    resp = await client.post("/konnect/v1/revocation", data={
        "token": tokens["refresh_token"], "client_id": "web"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"
    resp = await client.post("/konnect/v1/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "ocis-cli"})
    assert resp.status == 200                        # still valid: nothing was revoked
    for bad in ({"client_id": "ocis-cli"}, {"client_id": "ocis-cli", "token": ""},
                {"client_id": "ocis-cli", "token": "x\r\ny"}):
        resp = await client.post("/konnect/v1/revocation", data=bad)
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_public_client_may_name_itself_with_basic_and_no_password(client: Any) -> None:
    flow = Flow(client)
    code = await flow.code()
    basic = {"Authorization": "Basic " + base64.b64encode(b"ocis-cli:").decode()}
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
            "code_verifier": flow.verifier}
    resp = await client.post("/konnect/v1/token", headers=basic, data={**data, "client_id": "web"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    code = await flow.code()                       # a new request: a new code and verifier
    resp = await client.post("/konnect/v1/token", headers=basic, data={
        **data, "code": code, "code_verifier": flow.verifier})
    assert resp.status == 200


async def test_cross_origin_form_posts_are_refused(client: Any) -> None:
    """Besides the CSRF token, a sign-in form must come from a page of this IdP: a cross-origin
    POST gets 403 with a page saying why, and signs nobody in."""
    flow = Flow(client)
    page = await client.get(flow.authorize_url(), allow_redirects=False)
    form = forms(await page.text())["login"]
    data = {**form["fields"], "username": "einstein", "password": "relativity"}
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Origin": "http://idp.test:9201"}, {"Origin": "https://idp.test:9200"},
                    {"Referer": "https://evil.example/signin/v1/identifier/_/authorize"},
                    {"Origin": "https://evil.example", "Referer": ISSUER + "/signin/"}):
        resp = await client.post(form["action"], data=data, headers=headers,
                                 allow_redirects=False)
        text = await resp.text()
        assert resp.status == 403, (headers, text)
        assert "Sign-in refused" in text and "another site" in text
        assert "ocis-idp-session" not in resp.headers.get("Set-Cookie", "")
    for headers in ({"Origin": ISSUER}, {"Origin": "HTTP://IDP.TEST:9200"},
                    {"Referer": ISSUER + "/signin/v1/identifier/_/authorize?x=1"}, {}):
        resp = await client.post(form["action"], data=data, headers=headers,
                                 allow_redirects=False)
        assert resp.status == 303, (headers, await resp.text())
    # the consent form has the same guard
    flow = Flow(client, client_id="web", redirect_uri="http://idp.test:9200/oidc-callback.html",
                extra={"prompt": "consent"})
    resp = await client.get(flow.authorize_url(), allow_redirects=False)
    consent = forms(await resp.text()).get("consent")
    assert consent is not None, await resp.text()
    resp = await client.post(consent["action"], data={**consent["fields"], "decision": "allow"},
                             headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert resp.status == 403


async def test_unreadable_signing_key_is_a_503_and_refused_tokens_not_a_crash(
        tmp_path: Path, aiohttp_client: Any) -> None:
    """The keys are read with the IdP's first request (issue 18, memory): a key file that turns
    out to be unreadable then answers 503 with the service's error body, not a 500, and the
    proxy's verifier refuses tokens (401) instead of failing."""
    from ocis_server.auth.oidc import OidcVerifier
    from ocis_server.domain.errors import Unauthenticated

    ctx = await make_context(tmp_path)
    (tmp_path / "data" / "idp" / "private-key.pem").write_text("not a key")
    client = await aiohttp_client(idp_root(ctx))
    resp = await client.get("/konnect/v1/jwks.json")
    assert resp.status == 503
    assert "Traceback" not in await resp.text() and str(tmp_path) not in await resp.text()
    verifier = OidcVerifier(ctx.config, lambda: ctx.keys)
    def b64(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'RS256', 'kid': 'x'})}.{b64({'iss': ISSUER})}.c2ln"
    with pytest.raises(Unauthenticated, match="keys are not available"):
        await verifier.verify(token)
