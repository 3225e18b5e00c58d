"""What relying parties read: the discovery document (OpenID Connect Discovery 1.0, at lico's
endpoint paths plus our device and revocation endpoints), the JWKS and userinfo."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.domain.errors import NotFound, Unauthenticated

from . import config as paths
from .clients import DEVICE_GRANT, SUPPORTED_SCOPES
from .errors import NO_STORE, OAuthError
from .state import IdpState, idp_state
from .tokens import (
    CLAIMS_SUPPORTED,
    check_access_token,
    profile_claims,
)


def discovery_document(state: IdpState) -> dict[str, Any]:
    cfg = state.cfg
    return {
        "issuer": cfg.issuer,
        "authorization_endpoint": cfg.url(paths.AUTHORIZE_PATH),
        "token_endpoint": cfg.url(paths.TOKEN_PATH),
        "userinfo_endpoint": cfg.url(paths.USERINFO_PATH),
        "jwks_uri": cfg.url(paths.JWKS_PATH),
        "end_session_endpoint": cfg.url(paths.ENDSESSION_PATH),
        "device_authorization_endpoint": cfg.url(paths.DEVICE_AUTHORIZATION_PATH),
        "revocation_endpoint": cfg.url(paths.REVOCATION_PATH),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [cfg.signing_method],
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                  "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic",
                                                       "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


async def handle_discovery(request: web.Request) -> web.StreamResponse:
    return web.json_response(discovery_document(idp_state(request)),
                             headers={"Cache-Control": "public, max-age=300",
                                      "Access-Control-Allow-Origin": "*"})


async def handle_jwks(request: web.Request) -> web.StreamResponse:
    return web.json_response(idp_state(request).keys.jwks(),
                             headers={"Cache-Control": "public, max-age=60",
                                      "Access-Control-Allow-Origin": "*"},
                             content_type="application/json")


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return ""


async def handle_userinfo(request: web.Request) -> web.StreamResponse:
    """OIDC Core §5.3 with a Bearer access token (header only, RFC 6750 §2.1)."""
    state = idp_state(request)
    challenge = 'Bearer realm="ocis", error="invalid_token"'
    token = _bearer(request)
    if not token:
        raise OAuthError("invalid_request", "a Bearer access token is required", 401,
                         {"WWW-Authenticate": 'Bearer realm="ocis"'})
    try:
        claims = check_access_token(state.cfg, state.keys, token, set(state.clients))
        user = await state.users.get(claims["sub"])
        if not user.enabled:
            raise Unauthenticated("the account is disabled")
    except (Unauthenticated, NotFound):
        raise OAuthError("invalid_token", "the access token is invalid or expired", 401,
                         {"WWW-Authenticate": challenge}) from None
    body = {"sub": user.id, **await profile_claims(state.users, user)}
    return web.json_response(body, headers={**NO_STORE, "Access-Control-Allow-Origin": "*"})
