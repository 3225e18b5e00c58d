"""Bearer token verification (ocis_server.auth.oidc) against a real issuer on loopback: signatures,
algorithms, kids and key refresh, iss/aud/exp/nbf; then through the proxy: the primary issuer's
claim mapping and foreign accounts auto-provisioned as Guests keyed by (issuer, sub); and only
access tokens are credentials: the embedded IdP's id tokens, Keycloak-typed id tokens and, for a
strict issuer, tokens not typed at+jwt (RFC 9068) are refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urljoin

import aiohttp
import pytest
from idp_helpers import LOOPBACK, forms, pkce, query_of
from joserfc import jwt
from joserfc.jwk import KeySet as JoseKeySet
from oidc_issuer import IssuerStub, hs256_token, serve_issuer, unsigned_token

from ocis_server.auth.keys import KeySet
from ocis_server.auth.oidc import OidcVerifier, policies_from_config
from ocis_server.domain.errors import NotFound, Unauthenticated
from ocis_server.runtime import embedded_server, make_test_config


def settings(**over: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "oidc_issuer": "", "ocis_url": "http://127.0.0.1:1", "oidc_trusted_issuers": [], "oidc_issuers": [],
        "oidc_audiences": [], "oidc_jwks_refresh_rate_limit": 60.0, "oidc_jwks_refresh_interval": 3600.0,
        "user_oidc_claim": "preferred_username", "user_cs3_claim": "username",
        "autoprovision_accounts": False}
    values.update(over)
    return SimpleNamespace(**values)


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[IssuerStub]:
    async with serve_issuer(tmp_path / "issuer-keys") as server:
        yield server


def verifier_for(issuer: IssuerStub, **over: Any) -> OidcVerifier:
    return OidcVerifier(settings(oidc_trusted_issuers=[issuer.url], **over))


async def test_valid_token_verifies_and_keys_are_cached(issuer: IssuerStub) -> None:
    verifier = verifier_for(issuer)
    for _ in range(3):
        verified = await verifier.verify(issuer.token("abc", preferred_username="einstein"))
        assert verified.subject == "abc" and verified.issuer == issuer.url
        assert verified.claims["preferred_username"] == "einstein"
        assert not verified.policy.primary and verified.policy.user_type == "Guest"
    assert issuer.jwks_fetches == 1


async def _refused(verifier: OidcVerifier, token: str) -> None:
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_forged_and_invalid_tokens_are_refused(issuer: IssuerStub) -> None:
    verifier = verifier_for(issuer)
    good = issuer.claims("abc")
    await _refused(verifier, unsigned_token(good))
    public = JoseKeySet.import_key_set(issuer.keys.jwks()).keys[0]
    for secret in (public.as_pem(private=False), json.dumps(issuer.keys.jwks()["keys"][0]).encode()):
        await _refused(verifier, hs256_token(good, secret, kid=issuer.keys.kid))
    head, _payload, sig = issuer.sign(good).split(".")
    tampered = dict(good, sub="someone-else")
    forged_payload = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=").decode()
    await _refused(verifier, f"{head}.{forged_payload}.{sig}")
    await _refused(verifier, issuer.token("abc", aud="not-our-client"))
    await _refused(verifier, issuer.token("abc", lifetime=-120))          # expired
    await _refused(verifier, issuer.sign(dict(good, nbf=int(time.time()) + 600)))
    await _refused(verifier, issuer.sign({k: v for k, v in good.items() if k != "sub"}))
    await _refused(verifier, issuer.sign({k: v for k, v in good.items() if k != "exp"}))
    await _refused(verifier, issuer.sign(dict(good, events={
        "http://schemas.openid.net/event/backchannel-logout": {}})))
    for garbage in ("", "a.b", "not.a.jwt", "x" * 20000, "a.b.c.d"):
        await _refused(verifier, garbage)


async def test_untrusted_issuer_is_refused_without_contacting_it(issuer: IssuerStub) -> None:
    verifier = OidcVerifier(settings())         # trusts only its own (primary) issuer
    await _refused(verifier, issuer.token("abc"))
    assert issuer.jwks_fetches == 0


async def test_unknown_kid_refetches_at_a_limited_rate(issuer: IssuerStub, tmp_path: Path) -> None:
    now = [1000.0]
    verifier = OidcVerifier(settings(oidc_trusted_issuers=[issuer.url]), clock=lambda: now[0])
    await verifier.verify(issuer.token("abc"))
    stranger = await KeySet.open(tmp_path / "stranger")
    forged = stranger.sign(issuer.claims("abc"))
    for _ in range(5):
        await _refused(verifier, forged)
    assert issuer.jwks_fetches == 1          # within the rate limit of the first fetch
    now[0] += 61
    for _ in range(5):
        await _refused(verifier, forged)
    assert issuer.jwks_fetches == 2          # one refresh for the unknown kid, then rate-limited
    await verifier.verify(issuer.token("abc"))
    assert issuer.jwks_fetches == 2


async def test_rotated_issuer_key_is_picked_up(issuer: IssuerStub) -> None:
    verifier = verifier_for(issuer, oidc_jwks_refresh_rate_limit=0.0)
    await verifier.verify(issuer.token("abc"))
    await issuer.keys.rotate()
    assert (await verifier.verify(issuer.token("abc"))).subject == "abc"
    assert issuer.jwks_fetches == 2


async def test_discovery_naming_another_issuer_is_not_trusted(issuer: IssuerStub) -> None:
    issuer.discovery_issuer = "https://evil.example"
    await _refused(verifier_for(issuer), issuer.token("abc"))


async def test_per_issuer_settings_audiences_and_algorithms(issuer: IssuerStub) -> None:
    verifier = OidcVerifier(settings(oidc_issuers=[{"issuer": issuer.url, "audiences": ["mine"],
                                                    "autoprovision": True}]))
    await _refused(verifier, issuer.token("abc", aud="web"))
    verified = await verifier.verify(issuer.token("abc", aud=["other", "mine"]))
    assert verified.policy.autoprovision
    only_es = OidcVerifier(settings(oidc_issuers=[{"issuer": issuer.url, "algorithms": ["ES256"]}]))
    await _refused(only_es, issuer.token("abc"))
    with pytest.raises(ValueError):
        policies_from_config(settings(oidc_issuers=[{"issuer": issuer.url, "algorithms": ["HS256"]}]))
    with pytest.raises(ValueError):
        policies_from_config(settings(oidc_issuers=[{"issuer": issuer.url, "bogus": 1}]))


# --- through the proxy ---------------------------------------------------------------------------
async def _get(url: str, token: str, path: str = "/graph/v1.0/me") -> tuple[int, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.get(url + path, headers=auth) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def test_primary_issuer_maps_claims_and_foreign_accounts_are_guests(
        issuer: IssuerStub, tmp_path: Path) -> None:
    config = make_test_config(tmp_path / "srv", OCIS_OIDC_TRUSTED_ISSUERS=issuer.url,
                              PROXY_AUTOPROVISION_ACCOUNTS="true")
    async with embedded_server(config, only=["graph", "ocdav"]) as srv:
        local = await srv.ctx.users.get_by_name("einstein")
        # the embedded issuer: keys in-process on ctx.keys, issuer = OCIS_URL
        own = await KeySet.open(tmp_path / "own-keys")
        srv.ctx.keys = own
        now = int(time.time())
        mine = own.sign({"iss": srv.config.ocis_url, "aud": "web", "sub": local.id,
                         "preferred_username": "einstein", "iat": now, "exp": now + 300,
                         "client_id": "web", "scope": "openid profile"})
        status, body = await _get(srv.url, mine)
        assert status == 200 and body["id"] == local.id, body

        # a foreign einstein: a Guest of its own, never the local einstein
        foreign = issuer.token("ext-1", preferred_username="einstein", email="e@ext.example",
                               name="Albert Ext")
        status, body = await _get(srv.url, foreign)
        assert status == 200, body
        assert body["id"] != local.id and body["userType"] == "Guest"
        assert body["onPremisesSamAccountName"].startswith("einstein@")
        assert body["displayName"] == "Albert Ext"
        again = issuer.token("ext-1", preferred_username="renamed")
        status, body2 = await _get(srv.url, again)
        assert status == 200 and body2["id"] == body["id"]
        guest = await srv.ctx.users.get_by_identity(issuer.url, "ext-1")
        assert guest.id == body["id"] and guest.is_guest

        # forged or untrusted tokens: 401 in the protocol's format, no detail
        status, text = await _get(srv.url, unsigned_token(issuer.claims("ext-1")),
                                  "/remote.php/dav/files/einstein/")
        assert status == 401 and "NotAuthenticated" in text and "alg" not in text
        status, body = await _get(srv.url, issuer.token("ext-1", lifetime=-100))
        assert status == 401 and body["error"]["message"] == "invalid or expired token"
        async with aiohttp.ClientSession() as session, session.get(
                srv.url + "/graph/v1.0/me", headers={"Authorization": "Bearer x.y.z"}) as resp:
            assert resp.headers["WWW-Authenticate"] == 'Bearer realm="ocis", error="invalid_token"'


async def test_no_autoprovisioning_means_401_for_unknown_foreign_users(
        issuer: IssuerStub, tmp_path: Path) -> None:
    config = make_test_config(tmp_path / "srv", OCIS_OIDC_TRUSTED_ISSUERS=issuer.url)
    async with embedded_server(config, only=["graph"]) as srv:
        status, _ = await _get(srv.url, issuer.token("ext-2", preferred_username="einstein"))
        assert status == 401
        with pytest.raises(NotFound):
            await srv.ctx.users.get_by_name("einstein@" + issuer.url.split("//")[1].replace(":", "-"))


async def test_external_primary_issuer_provisions_members_with_roles(
        issuer: IssuerStub, tmp_path: Path) -> None:
    config = make_test_config(tmp_path / "srv", OCIS_OIDC_ISSUER=issuer.url,
                              PROXY_AUTOPROVISION_ACCOUNTS="true")
    async with embedded_server(config, only=["graph", "ocdav"]) as srv:
        local = await srv.ctx.users.get_by_name("marie")
        # an existing account is matched by PROXY_USER_OIDC_CLAIM -> PROXY_USER_CS3_CLAIM
        status, body = await _get(srv.url, issuer.token("idp-marie", preferred_username="marie"))
        assert status == 200 and body["id"] == local.id
        # a new one is created as a Member, with the role the `roles` claim gives
        token = issuer.token("idp-lise", preferred_username="lise", name="Lise Meitner",
                             email="lise@example.org", roles=["ocisSpaceAdmin"])
        status, body = await _get(srv.url, token)
        assert status == 200 and body["userType"] == "Member", body
        lise = await srv.ctx.users.get_by_name("lise")
        assert lise.role == "spaceadmin" and lise.email == "lise@example.org"
        await srv.ctx.storage.get_space(lise.id)       # her personal space exists ...
        headers = {"Authorization": f"Bearer {token}", "Depth": "0"}
        async with aiohttp.ClientSession() as session, session.request(
                "PROPFIND", srv.url + "/remote.php/dav/files/lise/", headers=headers) as resp:
            assert resp.status == 207                  # ... and WebDAV serves it to her token


async def test_issuer_settings_from_ocis_toml(issuer: IssuerStub, tmp_path: Path) -> None:
    config = make_test_config(tmp_path / "srv")
    toml = config.config_file.read_text()
    config.config_file.write_text(toml + f'''
[[oidc.issuers]]
issuer = "{issuer.url}"
audiences = ["partner-app"]
autoprovision = true
user_type = "Member"
role = "user"
''')
    config = make_test_config(tmp_path / "srv")
    assert config.oidc_issuers[0]["audiences"] == ["partner-app"]
    async with embedded_server(config, only=["graph"]) as srv:
        assert (await _get(srv.url, issuer.token("p1", preferred_username="kim")))[0] == 401
        status, body = await _get(srv.url, issuer.token("p1", aud="partner-app",
                                                        preferred_username="kim"))
        assert status == 200 and body["userType"] == "Member"


# --- only access tokens are bearer credentials ---------------------------------------------------
async def _tokens_from_embedded_idp(srv: Any, username: str, password: str) -> dict[str, Any]:
    """Sign in at the server's own IdP through its pages (code + PKCE) and redeem the code."""
    verifier, challenge = pkce()
    query = urlencode({"client_id": "ocis-cli", "redirect_uri": LOOPBACK, "response_type": "code",
                       "scope": "openid profile email", "state": "st", "nonce": "n1",
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    url = f"{srv.url}/signin/v1/identifier/_/authorize?{query}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url, allow_redirects=False) as page:
            form = forms(await page.text())["login"]
        data = {**form["fields"], "username": username, "password": password}
        async with http.post(urljoin(url, form["action"]), data=data,
                             allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
            url = urljoin(url, resp.headers["Location"])
        async with http.get(url, allow_redirects=False) as resp:     # ocis-cli is trusted: no consent
            assert resp.status == 302 and resp.headers["Location"].startswith(LOOPBACK)
            code = query_of(resp.headers["Location"])["code"]
        async with http.post(f"{srv.url}/konnect/v1/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": LOOPBACK,
                "client_id": "ocis-cli", "code_verifier": verifier}) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())


async def _propfind(url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Depth": "0"}
    async with aiohttp.ClientSession() as session, session.request(
            "PROPFIND", url + "/remote.php/dav/files/einstein/", headers=headers) as resp:
        return resp.status


async def test_embedded_idp_id_token_is_refused_its_access_token_works(tmp_path: Path) -> None:
    config = make_test_config(tmp_path / "srv")
    async with embedded_server(config, only=["idp", "graph", "ocdav"]) as srv:
        tokens = await _tokens_from_embedded_idp(srv, "einstein", "relativity")
        access, id_token = tokens["access_token"], tokens["id_token"]
        status, body = await _get(srv.url, access)
        assert status == 200 and body["onPremisesSamAccountName"] == "einstein"
        assert await _propfind(srv.url, access) == 207
        # same issuer, same key, same audience and subject: still not a credential
        status, body = await _get(srv.url, id_token)
        assert status == 401 and body["error"]["message"] == "invalid or expired token"
        assert await _propfind(srv.url, id_token) == 401
        # and an embedded token without client_id/scope is refused even when signed by its key
        assert srv.ctx.keys is not None
        claims = srv.ctx.keys.verify(access)
        del claims["client_id"]
        assert (await _get(srv.url, srv.ctx.keys.sign(claims)))[0] == 401


def _typed(issuer: IssuerStub, claims: dict[str, Any], typ: str) -> str:
    """A token of the stub issuer with its own JOSE header `typ` (KeySet.sign always says JWT)."""
    header = {"alg": issuer.keys.algorithm, "kid": issuer.keys.kid, "typ": typ}
    return jwt.encode(header, claims, issuer.keys._current.key,  # the stub's private key
                      algorithms=[issuer.keys.algorithm])


async def test_external_id_tokens_refused_and_strict_issuers_need_at_jwt(issuer: IssuerStub) -> None:
    verifier = verifier_for(issuer)
    await _refused(verifier, issuer.token("abc", typ="ID"))           # Keycloak's id token
    await _refused(verifier, issuer.token("abc", typ="Refresh"))
    assert (await verifier.verify(issuer.token("abc", typ="Bearer"))).subject == "abc"
    assert (await verifier.verify(issuer.token("abc"))).subject == "abc"   # untyped: as before
    strict = OidcVerifier(settings(oidc_issuers=[{"issuer": issuer.url, "strict": True}]))
    await _refused(strict, issuer.token("abc"))                        # header typ JWT
    await _refused(strict, _typed(issuer, issuer.claims("abc"), "JWT"))
    await _refused(strict, _typed(issuer, issuer.claims("abc", typ="ID"), "at+jwt"))
    for typ in ("at+jwt", "application/at+jwt"):
        assert (await strict.verify(_typed(issuer, issuer.claims("abc"), typ))).subject == "abc"
    with pytest.raises(ValueError):
        policies_from_config(settings(oidc_issuers=[{"issuer": issuer.url, "strict": "yes"}]))


def test_only_the_embedded_issuer_requires_client_id_and_scope() -> None:
    own = policies_from_config(settings())
    assert own["http://127.0.0.1:1"].embedded
    external = policies_from_config(settings(oidc_issuer="https://keycloak.example/realms/x"))
    assert not external["https://keycloak.example/realms/x"].embedded
