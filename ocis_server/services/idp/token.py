"""The token endpoint (RFC 6749 §3.2), the device authorization endpoint (RFC 8628 §3.1) and token
revocation (RFC 7009): each reads the form our way (forms.py: bounded, no repeated field) and hands
it to authlib's server (oauth.py), whose grants and endpoints (grants.py) answer, errors included."""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import OcisError

from .errors import OAuthError
from .forms import read_form
from .oauth import oauth_request
from .state import idp_state


async def _form(request: web.Request) -> dict[str, str]:
    try:
        form = await read_form(request)
    except OcisError as exc:
        raise OAuthError("invalid_request", exc.message) from None   # RFC 6749 §5.2: 400
    if not all(v.isprintable() for v in form.values()):   # authlib echoes some values in errors
        raise OAuthError("invalid_request", "a form field contains control characters")
    return form


async def handle_token(request: web.Request) -> web.StreamResponse:
    """authorization_code (+ PKCE S256, OpenID Connect), refresh_token (rotated) and
    urn:ietf:params:oauth:grant-type:device_code."""
    state = idp_state(request)
    oauth_req = oauth_request(state, request, await _form(request))
    response: web.Response = await state.oauth.run(state.oauth.create_token_response, oauth_req)
    return response


async def handle_device_authorization(request: web.Request) -> web.StreamResponse:
    state = idp_state(request)
    oauth_req = oauth_request(state, request, await _form(request))
    response: web.Response = await state.oauth.run(state.oauth.create_endpoint_response,
                                                   "device_authorization", oauth_req)
    return response


async def handle_revocation(request: web.Request) -> web.StreamResponse:
    """Revoke a refresh token (and its family); unknown tokens answer 200 as well (§2.2)."""
    state = idp_state(request)
    oauth_req = oauth_request(state, request, await _form(request))
    response: web.Response = await state.oauth.run(state.oauth.create_endpoint_response,
                                                   "revocation", oauth_req)
    return response
