"""Verification of OpenID Connect bearer tokens (signed JWTs) from the issuers this server trusts.

The primary issuer (OCIS_OIDC_ISSUER, else OCIS_URL: the embedded IdP, whose keys come in-process
from `ctx.keys`) and any number of trusted foreign issuers (OCIS_OIDC_TRUSTED_ISSUERS, settings in
`[[oidc.issuers]]`), whose keys come from discovery + JWKS, cached, refreshed at a limited rate.

Only access tokens are bearer credentials, never id tokens (an id token is handed to every relying
party and says nothing about what its holder may call). The rule, by issuer:
- the embedded IdP (the primary issuer when it is OCIS_URL, or whenever its keys are in-process
  on ctx.keys) puts `client_id` and `scope` into access tokens only: a token without both is refused;
- any issuer: a `typ` claim naming another kind of token (Keycloak's "ID", "Refresh", "Logout",
  "Offline") and a logout token (`events`, header typ logout+jwt) are refused;
- an issuer configured `strict = true` in [[oidc.issuers]] must mark access tokens as RFC 9068
  does, header `typ` "at+jwt" or "application/at+jwt"; others are accepted as before.

joserfc (and cryptography under it, about 10 MiB resident) is imported with the first bearer
token, not with the proxy: a server nobody sends a token to never loads it (issue 18, memory).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from ocis_server.domain.errors import Unauthenticated

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

log = logging.getLogger("ocis.auth.oidc")

# Asymmetric algorithms only: `none` and HMAC (HS256 "signed" with a public key) never verify.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# The clients of the embedded IdP (protocol-notes.md §12): web, ocis-cli, desktop, Android, iOS.
DEFAULT_AUDIENCES = (
    "web", "ocis-cli",
    "xdXOt13JKxym1B1QcEncf2XDkLAexMBFwiT9j6EfhhHFJhs2KM9jbjTmf8JBXE69",
    "e4rAsNUSIUs0lF4nbv9FmCeUkTlV9GdgTLDH1b5uie7syb90SzEVrbN7HIpmWJeD",
    "mxd5OQDk6es5LzOzRvidJNfXLUZS2oN3oUFeXPP8LpPrhx3UroJFduGEYIBOxkY1",
)
LEEWAY = 30                  # seconds of clock skew tolerated on exp / nbf / iat
MAX_TOKEN = 16 * 1024        # bytes: a longer bearer is not a token anyone issued
_MAX_DOCUMENT = 1024 * 1024  # bytes of a discovery document or JWKS
_FETCH_TIMEOUT = 10.0
_SETTINGS = {"issuer", "audiences", "algorithms", "user_oidc_claim", "user_cs3_claim",
             "autoprovision", "user_type", "role", "link_local", "strict"}
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")        # JOSE header typ, RFC 9068 §2.1
NOT_ACCESS_TOKENS = ("id", "refresh", "offline", "logout")     # `typ` claim values (Keycloak)


def normalize_issuer(url: str) -> str:
    return url.strip().rstrip("/")


@dataclass(frozen=True, slots=True)
class IssuerPolicy:
    """How tokens of one issuer are checked and mapped to accounts."""
    issuer: str
    audiences: tuple[str, ...] = DEFAULT_AUDIENCES
    algorithms: tuple[str, ...] = ALGORITHMS
    user_oidc_claim: str = "preferred_username"
    user_cs3_claim: str = "username"          # username | userid | mail
    autoprovision: bool = False
    user_type: str = "Guest"                   # of accounts provisioned for this issuer
    role: str = "guest"
    link_local: bool = False    # map claims to local accounts (the primary issuer; opt-in otherwise)
    primary: bool = False
    embedded: bool = False      # the embedded IdP: access tokens carry client_id and scope
    strict: bool = False        # access tokens must have the RFC 9068 header typ at+jwt


def policies_from_config(config: Any) -> dict[str, IssuerPolicy]:
    """Issuer URL -> policy for every issuer this server trusts; raises ValueError on bad settings."""
    audiences = tuple(config.oidc_audiences) or DEFAULT_AUDIENCES
    base: dict[str, Any] = {"audiences": audiences, "user_oidc_claim": config.user_oidc_claim,
                            "user_cs3_claim": config.user_cs3_claim,
                            "autoprovision": config.autoprovision_accounts}
    primary = normalize_issuer(config.oidc_issuer or config.ocis_url)
    embedded = primary == normalize_issuer(config.ocis_url)   # where the embedded IdP answers
    policies = {primary: IssuerPolicy(primary, **base, user_type="Member", role="user",
                                      link_local=True, primary=True, embedded=embedded)}
    for url in config.oidc_trusted_issuers:
        issuer = normalize_issuer(url)
        policies.setdefault(issuer, IssuerPolicy(issuer, **base))
    for table in config.oidc_issuers:
        unknown = set(table) - _SETTINGS
        if unknown or not isinstance(table.get("issuer"), str):
            raise ValueError(f"oidc.issuers: need `issuer`; unknown keys {sorted(unknown)}")
        issuer = normalize_issuer(table["issuer"])
        current = policies.get(issuer) or IssuerPolicy(issuer, **base)
        changes: dict[str, Any] = {k: v for k, v in table.items() if k != "issuer"}
        for key in ("audiences", "algorithms"):
            if key in changes:
                changes[key] = tuple(str(v) for v in changes[key])
        if not isinstance(changes.get("strict", False), bool):
            raise ValueError("oidc.issuers: strict must be true or false")  # noqa: TRY004 (-> ConfigError)
        if not set(changes.get("algorithms", ())) <= set(ALGORITHMS):
            raise ValueError(f"oidc.issuers: algorithms must be among {', '.join(ALGORITHMS)}")
        policies[issuer] = _replace(current, changes)
    return policies


def _replace(policy: IssuerPolicy, changes: Mapping[str, Any]) -> IssuerPolicy:
    values = {name: getattr(policy, name) for name in IssuerPolicy.__dataclass_fields__}
    values.update(changes)
    return IssuerPolicy(**values)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    policy: IssuerPolicy
    claims: dict[str, Any]

    @property
    def issuer(self) -> str:
        return self.policy.issuer

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])


@dataclass(slots=True)
class _RemoteKeys:
    keys: KeySet | None = None
    fetched: float = 0.0          # monotonic time of the last successful fetch
    attempted: float = -1e18      # monotonic time of the last attempt (rate limit)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class OidcVerifier:
    """`await verify(token)` -> VerifiedToken, or Unauthenticated with a short, non-leaking reason."""

    def __init__(self, config: Any, embedded_keys: Callable[[], Any] = lambda: None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policies = policies_from_config(config)
        self.primary = next(p for p in self.policies.values() if p.primary)
        self._embedded_keys = embedded_keys     # () -> the IdP's KeySet (ctx.keys) or None
        self._rate_limit = float(config.oidc_jwks_refresh_rate_limit)
        self._refresh_interval = float(config.oidc_jwks_refresh_interval)
        self._clock = clock
        self._remote: dict[str, _RemoteKeys] = {}
        self._embedded_cache: tuple[Any, KeySet] | None = None

    async def verify(self, token: str) -> VerifiedToken:
        header, unverified = _peek(token)
        alg = header.get("alg")
        if str(header.get("typ", "")).lower() in ("logout+jwt", "application/logout+jwt"):
            raise Unauthenticated("a logout token is not an access token")
        issuer = normalize_issuer(str(unverified.get("iss", "")))
        policy = self.policies.get(issuer)
        if policy is None:
            raise Unauthenticated("token from an untrusted issuer")
        if alg not in policy.algorithms:
            raise Unauthenticated("token signed with a disallowed algorithm")
        kid = header.get("kid")
        keys, in_process = await self._keys(policy, kid if isinstance(kid, str) else None)
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            decoded = jwt.decode(token, keys, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            log.info("bad token signature from %s: %s", issuer, exc)
            raise Unauthenticated("invalid token") from None
        _check_claims(decoded.claims, policy, str(unverified.get("iss")))
        _check_access_token(header, decoded.claims, policy, embedded=policy.embedded or in_process)
        return VerifiedToken(policy, dict(decoded.claims))

    async def _keys(self, policy: IssuerPolicy, kid: str | None) -> tuple[KeySet, bool]:
        """The keys to verify a token of `policy`'s issuer with, and whether they are the
        embedded IdP's own (in-process, ctx.keys)."""
        local = self._embedded_keys() if policy.primary else None
        if local is not None:
            if not getattr(local, "loaded", True):
                try:
                    await local.load()      # the IdP's key set is read with its first use
                except (OSError, ValueError) as exc:
                    log.error("the embedded IdP's signing keys cannot be loaded: %s", exc)
                    raise Unauthenticated("the token issuer's keys are not available") from None
            keys = self._embedded(local)
            if not _has_kid(keys, kid) and hasattr(local, "refresh"):
                await local.refresh()       # shared keys (auth/pgkeys.py): another node rotated
                keys = self._embedded(local)
            if _has_kid(keys, kid):
                return keys, True
            raise Unauthenticated("token signed with an unknown key")
        state = self._remote.setdefault(policy.issuer, _RemoteKeys())
        now = self._clock()
        stale = state.keys is None or now - state.fetched > self._refresh_interval
        if stale or not _has_kid(state.keys, kid):
            async with state.lock:
                await self._refresh(policy.issuer, state, kid)
        if state.keys is None:
            raise Unauthenticated("the token issuer's keys are not available")
        if not _has_kid(state.keys, kid):
            raise Unauthenticated("token signed with an unknown key")
        return state.keys, False

    async def _refresh(self, issuer: str, state: _RemoteKeys, kid: str | None) -> None:
        from joserfc.errors import JoseError

        now = self._clock()
        fresh = state.keys is not None and now - state.fetched <= self._refresh_interval
        if fresh and _has_kid(state.keys, kid):
            return                                   # another request refreshed meanwhile
        if now - state.attempted < self._rate_limit:
            return                                   # unknown kids cannot make us hammer the IdP
        state.attempted = now
        try:
            state.keys = await fetch_jwks(issuer)
            state.fetched = self._clock()
        except (TimeoutError, OSError, aiohttp.ClientError, ValueError, TypeError, JoseError) as exc:
            log.warning("cannot fetch the keys of issuer %s: %s", issuer, exc)

    def _embedded(self, keyset: Any) -> KeySet:
        # Re-import only when the IdP rotated (its kids changed), not on every request.
        kids = getattr(keyset, "kids", None)
        kids = kids() if callable(kids) else kids
        marker = (id(keyset), tuple(kids)) if isinstance(kids, (list, tuple)) else None
        if marker is None or self._embedded_cache is None or self._embedded_cache[0] != marker:
            from joserfc.jwk import KeySet

            self._embedded_cache = (marker, KeySet.import_key_set(keyset.jwks()))
        return self._embedded_cache[1]


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified (to pick issuer and key)."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise Unauthenticated("malformed token")
    from joserfc import jws
    from joserfc.errors import JoseError

    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        raise Unauthenticated("malformed token") from None
    header = dict(compact.protected)
    if not isinstance(claims, dict):
        raise Unauthenticated("malformed token")
    return header, claims


def _has_kid(keys: KeySet | None, kid: str | None) -> bool:
    if keys is None:
        return False
    if kid is None:
        return len(keys.keys) == 1      # a kid-less token is fine only when there is no choice
    return any(k.kid == kid for k in keys.keys)


def _check_claims(claims: Mapping[str, Any], policy: IssuerPolicy, raw_issuer: str) -> None:
    now = time.time()
    if normalize_issuer(raw_issuer) != policy.issuer:
        raise Unauthenticated("invalid token issuer")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp + LEEWAY < now:
        raise Unauthenticated("token expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, (int, float)) or nbf - LEEWAY > now):
        raise Unauthenticated("token not yet valid")
    iat = claims.get("iat")
    if iat is not None and (not isinstance(iat, (int, float)) or iat - LEEWAY > now):
        raise Unauthenticated("token issued in the future")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in policy.audiences for a in audiences):
        raise Unauthenticated("token not meant for this server")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise Unauthenticated("token without a subject")
    if "events" in claims:
        # A back-channel logout token (OIDC Back-Channel Logout §2.4) is never a bearer credential.
        raise Unauthenticated("a logout token is not an access token")


def _check_access_token(header: Mapping[str, Any], claims: Mapping[str, Any],
                        policy: IssuerPolicy, *, embedded: bool) -> None:
    """Refuse id tokens and other non-access tokens (the rule in the module docstring)."""
    kind = claims.get("typ")
    if isinstance(kind, str) and kind.strip().lower() in NOT_ACCESS_TOKENS:
        raise Unauthenticated(f"a {kind[:20]!r} token is not an access token")
    if embedded and not (isinstance(claims.get("client_id"), str)
                         and isinstance(claims.get("scope"), str)):
        raise Unauthenticated("an id token is not an access token")
    if policy.strict and str(header.get("typ", "")).strip().lower() not in ACCESS_TOKEN_TYPES:
        raise Unauthenticated("the token is not typed as an access token (RFC 9068)")


async def fetch_json(session: aiohttp.ClientSession, url: str) -> Any:
    """A JSON document by GET, no redirects, capped in size."""
    async with session.get(url, allow_redirects=False,
                           headers={"Accept": "application/json"}) as response:
        if response.status != 200:
            raise ValueError(f"{url} answered {response.status}")
        body = await response.content.read(_MAX_DOCUMENT + 1)
        if len(body) > _MAX_DOCUMENT:
            raise ValueError(f"{url} sent more than {_MAX_DOCUMENT} bytes")
        return json.loads(body)


async def fetch_jwks(issuer: str) -> KeySet:
    """Discovery (the document must name this very issuer), then the JWKS it points to."""
    if urlsplit(issuer).scheme not in ("https", "http"):
        raise ValueError(f"issuer {issuer!r} is not an http(s) URL")
    timeout = aiohttp.ClientTimeout(total=_FETCH_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        document = await fetch_json(session, issuer + "/.well-known/openid-configuration")
        if not isinstance(document, dict) or normalize_issuer(str(document.get("issuer", ""))) != issuer:
            raise ValueError("discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme not in ("https", "http"):
            raise ValueError("discovery document has no usable jwks_uri")
        if urlsplit(issuer).scheme == "https" and urlsplit(jwks_uri).scheme != "https":
            raise ValueError("an https issuer must serve its keys over https")
        jwks = await fetch_json(session, jwks_uri)
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise TypeError("JWKS without keys")
    usable = [k for k in jwks["keys"] if isinstance(k, dict) and k.get("kty") in ("RSA", "EC")
              and k.get("use", "sig") == "sig" and "d" not in k]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set({"keys": usable})
