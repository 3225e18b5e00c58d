"""OpenID Connect for a native client: discovery (webfinger, then the issuer's metadata), the device
authorization grant (RFC 8628), authorization code + PKCE with a loopback redirect (RFC 7636, RFC 8252),
refresh, revocation (RFC 7009), and id-token verification against the issuer's JWKS (joserfc).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from ocis_cli.client.errors import (
    AuthError,
    BadRequest,
    ClientError,
    NetworkError,
    ServerError,
)

CLI_CLIENT_ID = "ocis-cli"
DEFAULT_SCOPE = "openid profile email offline_access"
ISSUER_REL = "http://openid.net/specs/connect/1.0/issuer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Asymmetric algorithms only: HS256 with a public key as the secret, and `none`, are never accepted.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
CLOCK_LEEWAY = 60


@dataclass(slots=True)
class TokenSet:
    """What a token endpoint answered; `expires_at` is a Unix time."""

    access_token: str
    expires_at: float
    refresh_token: str = ""
    id_token: str = ""
    token_type: str = "Bearer"
    scope: str = ""
    issued_at: float = 0.0

    def expires_soon(self, margin: float = 30.0) -> bool:
        """True within `margin` seconds of expiry (at most a quarter of the token's lifetime, so a
        short-lived token is not refreshed on every request)."""
        if self.issued_at:
            margin = min(margin, (self.expires_at - self.issued_at) / 4)
        return time.time() + margin >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Self:
        return cls(access_token=str(doc["access_token"]), expires_at=float(doc["expires_at"]),
                   refresh_token=str(doc.get("refresh_token") or ""),
                   id_token=str(doc.get("id_token") or ""),
                   token_type=str(doc.get("token_type") or "Bearer"),
                   scope=str(doc.get("scope") or ""),
                   issued_at=float(doc.get("issued_at") or 0.0))

    @classmethod
    def from_response(cls, doc: Mapping[str, Any], *, previous_refresh: str = "") -> Self:
        """A token response (RFC 6749 §5.1). Without `expires_in`, the access token's own `exp`
        schedules the refresh; without a new refresh token the old one stays (no rotation)."""
        access = doc.get("access_token")
        if not isinstance(access, str) or not access:
            raise ServerError("the token endpoint answered without an access_token", status=200)
        if str(doc.get("token_type", "Bearer")).lower() != "bearer":
            raise ServerError(f"unsupported token type {doc.get('token_type')!r}", status=200)
        now = time.time()
        lifetime = doc.get("expires_in")
        if isinstance(lifetime, int | float) and lifetime > 0:
            expires_at = now + float(lifetime)
        else:
            exp = unverified_claims(access).get("exp")
            expires_at = float(exp) if isinstance(exp, int | float) else now + 300.0
        return cls(access_token=access, expires_at=expires_at,
                   refresh_token=str(doc.get("refresh_token") or previous_refresh),
                   id_token=str(doc.get("id_token") or ""), scope=str(doc.get("scope") or ""),
                   issued_at=now)


@dataclass(frozen=True, slots=True)
class Provider:
    """The parts of an OpenID provider's metadata (OpenID Discovery 1.0, RFC 8414) a CLI uses."""

    issuer: str
    token_endpoint: str
    authorization_endpoint: str = ""
    device_authorization_endpoint: str = ""
    userinfo_endpoint: str = ""
    jwks_uri: str = ""
    revocation_endpoint: str = ""
    end_session_endpoint: str = ""

    @classmethod
    def from_metadata(cls, doc: Mapping[str, Any]) -> Self:
        if not isinstance(doc.get("issuer"), str) or not isinstance(doc.get("token_endpoint"), str):
            raise ServerError("the OpenID configuration names no issuer or token endpoint", status=200)
        names = cls.__dataclass_fields__
        return cls(**{k: str(doc[k]) for k in names if isinstance(doc.get(k), str)})


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """RFC 8628 §3.2: what to show the user, and what to poll with."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_at: float
    interval: float = 5.0
    verification_uri_complete: str = ""


@dataclass(slots=True)
class PkceRequest:
    """One authorization request: the secrets it must be answered with (RFC 7636 §4.1, OIDC nonce)."""

    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def unverified_claims(jwt_value: str) -> dict[str, Any]:
    """A JWT's payload WITHOUT checking its signature: for scheduling and display only."""
    try:
        payload = jwt_value.split(".")[1]
        doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


async def _get_json(session: aiohttp.ClientSession, url: str,
                    params: Mapping[str, str] | None = None) -> tuple[int, Any]:
    try:
        async with session.get(url, params=params, headers={"Accept": "application/json"},
                               allow_redirects=False) as resp:
            raw = await resp.read()
            if resp.status != 200:
                return resp.status, None
    except aiohttp.ClientConnectionError as exc:
        raise NetworkError(f"cannot reach {url}: {exc}") from exc
    except TimeoutError as exc:
        raise NetworkError(f"timed out talking to {url}") from exc
    try:
        return 200, json.loads(raw)
    except ValueError:
        return 200, None


async def discover(session: aiohttp.ClientSession, server_url: str,
                   issuer: str | None = None) -> Provider:
    """The provider for a server: `issuer` if given, else webfinger's issuer link for the server URL
    (as the ownCloud clients ask), else the server's own `/.well-known/openid-configuration`."""
    base = server_url.rstrip("/")
    if issuer is None:
        status, doc = await _get_json(session, f"{base}/.well-known/webfinger",
                                      {"resource": base, "rel": ISSUER_REL})
        links = doc.get("links") if status == 200 and isinstance(doc, dict) else None
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == ISSUER_REL and link.get("href"):
                issuer = str(link["href"])
                break
    where = (issuer or base).rstrip("/")
    status, doc = await _get_json(session, f"{where}/.well-known/openid-configuration")
    if status != 200 or not isinstance(doc, dict):
        raise BadRequest(f"{where} offers no OpenID Connect login (discovery answered HTTP "
                         f"{status}); log in with --user and a password instead", status=status)
    provider = Provider.from_metadata(doc)
    # OpenID Discovery §4.3: the metadata's issuer must be the one we asked for. A server that
    # serves another provider's metadata for itself (PROXY_OIDC_REWRITE_WELLKNOWN) names it.
    if issuer is not None and provider.issuer.rstrip("/") != issuer.rstrip("/"):
        raise ServerError(f"issuer mismatch: asked {issuer}, metadata says {provider.issuer}",
                          status=200)
    return provider


class OidcClient:
    """The grants a public native client performs against one provider."""

    def __init__(self, session: aiohttp.ClientSession, provider: Provider, *,
                 client_id: str = CLI_CLIENT_ID, client_secret: str = "") -> None:
        self.session = session
        self.provider = provider
        self.client_id = client_id
        self._client_secret = client_secret

    def _client_form(self, form: dict[str, str]) -> dict[str, str]:
        form["client_id"] = self.client_id
        if self._client_secret:               # client_secret_post, for a confidential client
            form["client_secret"] = self._client_secret
        return form

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            async with self.session.post(url, data=self._client_form(form),
                                         headers={"Accept": "application/json"},
                                         allow_redirects=False) as resp:
                raw = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectionError as exc:
            raise NetworkError(f"cannot reach {url}: {exc}") from exc
        except TimeoutError as exc:
            raise NetworkError(f"timed out talking to {url}") from exc
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except ValueError:
            doc = {}
        return status, doc if isinstance(doc, dict) else {}

    async def token(self, form: dict[str, str], *, previous_refresh: str = "") -> TokenSet:
        """POST to the token endpoint; an OAuth error becomes AuthError with the error code."""
        status, doc = await self._post(self.provider.token_endpoint, form)
        if status == 200:
            return TokenSet.from_response(doc, previous_refresh=previous_refresh)
        raise oauth_error(status, doc, "token request")

    async def refresh(self, refresh_token: str) -> TokenSet:
        return await self.token({"grant_type": "refresh_token", "refresh_token": refresh_token},
                                previous_refresh=refresh_token)

    async def revoke(self, token: str, hint: str = "refresh_token") -> bool:
        """RFC 7009; False when the provider has no revocation endpoint or refused."""
        if not self.provider.revocation_endpoint:
            return False
        status, _ = await self._post(self.provider.revocation_endpoint,
                                     {"token": token, "token_type_hint": hint})
        return status == 200

    async def start_device(self, scope: str = DEFAULT_SCOPE) -> DeviceAuthorization:
        endpoint = self.provider.device_authorization_endpoint
        if not endpoint:
            raise BadRequest(f"{self.provider.issuer} offers no device authorization endpoint")
        status, doc = await self._post(endpoint, {"scope": scope})
        if status != 200:
            raise oauth_error(status, doc, "device authorization")
        try:
            return DeviceAuthorization(
                device_code=str(doc["device_code"]), user_code=str(doc["user_code"]),
                verification_uri=str(doc.get("verification_uri") or doc["verification_url"]),
                verification_uri_complete=str(doc.get("verification_uri_complete") or ""),
                expires_at=time.time() + float(doc.get("expires_in") or 600),
                interval=float(doc.get("interval") or 5))
        except (KeyError, TypeError, ValueError) as exc:
            raise ServerError(f"malformed device authorization answer ({exc})", status=200) from None

    async def poll_device(self, device: DeviceAuthorization, *,
                          sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> TokenSet:
        """Poll until the user approves (RFC 8628 §3.4-3.5): back off on slow_down, stop on denial
        or expiry."""
        interval = device.interval
        while True:
            if time.time() >= device.expires_at:
                raise AuthError("the device code expired before it was approved", code="expired_token")
            await sleep(interval)
            status, doc = await self._post(self.provider.token_endpoint,
                                           {"grant_type": DEVICE_GRANT,
                                            "device_code": device.device_code})
            if status == 200:
                return TokenSet.from_response(doc)
            code = str(doc.get("error", ""))
            if code == "authorization_pending":
                continue
            if code == "slow_down":
                interval += 5.0
                continue
            raise oauth_error(status, doc, "device login")

    def authorization_url(self, request: PkceRequest, redirect_uri: str, *,
                          scope: str = DEFAULT_SCOPE, login_hint: str = "") -> str:
        if not self.provider.authorization_endpoint:
            raise BadRequest(f"{self.provider.issuer} offers no authorization endpoint")
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": redirect_uri, "scope": scope, "state": request.state,
                  "nonce": request.nonce, "code_challenge": request.challenge,
                  "code_challenge_method": "S256"}
        if login_hint:
            params["login_hint"] = login_hint
        sep = "&" if "?" in self.provider.authorization_endpoint else "?"
        return f"{self.provider.authorization_endpoint}{sep}{urlencode(params)}"

    async def exchange_code(self, code: str, request: PkceRequest, redirect_uri: str) -> TokenSet:
        return await self.token({"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": redirect_uri, "code_verifier": request.verifier})

    async def verify_id_token(self, id_token: str, *, nonce: str = "") -> dict[str, Any]:
        """The id token's claims after checking signature (issuer JWKS), iss, aud, exp, and nonce."""
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        if not self.provider.jwks_uri:
            raise ServerError("the provider publishes no JWKS to verify the id token", status=200)
        status, jwks = await _get_json(self.session, self.provider.jwks_uri)
        if status != 200 or not isinstance(jwks, dict):
            raise ServerError(f"cannot read the provider's keys (HTTP {status})", status=status)
        checks: dict[str, Any] = {"iss": {"essential": True, "value": self.provider.issuer},
                                  "aud": {"essential": True, "value": self.client_id},
                                  "exp": {"essential": True}, "sub": {"essential": True}}
        if nonce:
            checks["nonce"] = {"essential": True, "value": nonce}
        try:
            token = jwt.decode(id_token, KeySet.import_key_set(jwks),  # type: ignore[arg-type]
                               algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(leeway=CLOCK_LEEWAY, **checks).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise AuthError(f"the id token failed verification ({exc})") from None
        return dict(token.claims)


def oauth_error(status: int, doc: Mapping[str, Any], what: str) -> ClientError:
    """An OAuth 2 error answer (RFC 6749 §5.2) as a typed SDK error."""
    code = str(doc.get("error") or "")
    detail = str(doc.get("error_description") or code or f"HTTP {status}")
    if code in ("invalid_grant", "access_denied", "expired_token", "invalid_client",
                "unauthorized_client") or status == 401:
        return AuthError(f"{what} refused: {detail}", status=status, code=code)
    if status >= 500:
        return ServerError(f"{what} failed: {detail}", status=status, code=code)
    return BadRequest(f"{what} failed: {detail}", status=status or 400, code=code)


_DONE_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>ocis login</title></head>"
              "<body><p>{}</p></body></html>")


class LoopbackReceiver:
    """A one-shot HTTP listener on 127.0.0.1 (RFC 8252 §7.3, any port) that receives the redirect.

    Answers with a wrong `state` are refused and waited past, so a local process cannot end the
    login by guessing the port. An `iss` parameter (RFC 9207) must name the expected issuer.
    """

    def __init__(self, state: str, host: str = "127.0.0.1", *, issuer: str = "") -> None:
        self._state = state
        self._issuer = issuer
        self._host = host
        self._runner: web.AppRunner | None = None
        self._result: asyncio.Future[str] | None = None
        self.redirect_uri = ""

    async def __aenter__(self) -> Self:
        self._result = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get("/callback", self._callback)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.redirect_uri = f"http://{self._host}:{port}/callback"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _callback(self, request: web.Request) -> web.Response:
        query = request.query
        state = query.get("state", "")
        if self._result is None or self._result.done() or not secrets.compare_digest(
                state.encode(), self._state.encode()):
            return _page("This sign-in answer does not belong to a login in progress.", 400)
        if self._issuer and "iss" in query and query["iss"].rstrip("/") != self._issuer.rstrip("/"):
            # RFC 9207 §2.4: an answer from another issuer is a mix-up attack; never redeem it.
            self._result.set_exception(AuthError("the answer came from another issuer",
                                                 code="invalid_issuer"))
            return _page("This answer came from an unexpected issuer; sign-in stopped.", 400)
        if "error" in query:
            detail = query.get("error_description") or query["error"]
            self._result.set_exception(AuthError(f"login refused: {detail}",
                                                 code=query["error"]))
            return _page("Sign-in was refused. You can close this window.", 200)
        code = query.get("code", "")
        if not code:
            return _page("The answer carries no authorization code.", 400)
        self._result.set_result(code)
        return _page("Signed in. You can close this window and return to the terminal.", 200)

    async def wait(self, timeout: float) -> str:
        """The authorization code, once the browser comes back with the right state."""
        assert self._result is not None, "use `async with`"
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), timeout)
        except TimeoutError:
            raise AuthError(f"no answer from the browser within {timeout:.0f} s") from None


def _page(text: str, status: int) -> web.Response:
    from html import escape

    return web.Response(text=_DONE_PAGE.format(escape(text)), status=status,
                        content_type="text/html", headers={"Cache-Control": "no-store"})
