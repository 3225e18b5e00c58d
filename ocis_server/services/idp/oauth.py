"""authlib's framework-agnostic AuthorizationServer bound to aiohttp: requests in (AioRequest), responses
out (web.Response), client authentication, the grants and endpoints of grants.py registered, and the
bridge between them: authlib is synchronous, so it runs on the IdP's own worker threads and awaits
the store and the user store on the service's event loop (never the other way round)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationServer,
    InvalidClientError,
    InvalidRequestError,
    JsonPayload,
    JsonRequest,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.util import extract_basic_authorization  # type: ignore[import-untyped]
from multidict import CIMultiDict

from ocis_server.domain.errors import OcisError

from .clients import Client
from .grants import (
    CodeGrant,
    DeviceEndpoint,
    DeviceGrant,
    OpenIDCodeTokens,
    OpenIDTokens,
    RefreshGrant,
    Revocation,
    S256Challenge,
)
from .store import Grant

if TYPE_CHECKING:
    from .state import IdpState

log = logging.getLogger("ocis.idp")
T = TypeVar("T")
WORKERS = 4            # concurrent grants; each one mostly waits on the store
BRIDGE_TIMEOUT = 30.0  # seconds a grant waits for one store or user-store call


class AioRequest(OAuth2Request):  # type: ignore[misc]
    """An aiohttp request as authlib sees it: the parameters we already parsed and checked (no
    repeats, bounded sizes: forms.py), the headers, and the public URI. authlib would refuse a
    plain-http URI; whether the IdP sits behind TLS is the deployment's choice (OCIS_URL), so it
    is shown the https form of the URI for that check and keeps the real one."""

    def __init__(self, idp: IdpState, method: str, uri: str, headers: Mapping[str, str],
                 data: dict[str, str]) -> None:
        parts = urlsplit(uri)
        super().__init__(method, urlunsplit(parts._replace(scheme="https")),
                         headers=CIMultiDict(headers))
        self.uri = uri
        self.payload = BasicOAuth2Payload(data)
        self._params = data
        self.idp = idp
        self.auth_time = 0                 # when the person signed in (authorization requests)
        self.issued: Grant | None = None   # what the token response is for (grants._Issuing)
        self.profile: dict[str, Any] = {}  # the user's claims in those tokens

    @property
    def args(self) -> dict[str, str]:
        return self._params if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self._params if self.method == "POST" else {}


class _Payload(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class OAuthServer(AuthorizationServer):  # type: ignore[misc]
    """One per mounted IdP app. The grants reach the IdP's state through `server.state` and run
    coroutines with `server.wait`."""

    def __init__(self, state: IdpState, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(scopes_supported=None)   # unknown scopes are dropped, not refused
        self.state = state
        self._loop = loop
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="idp-oauth")
        self.register_client_auth_method("none", _public_client)
        self.register_grant(CodeGrant, [S256Challenge(required=True), OpenIDCodeTokens()])
        self.register_grant(RefreshGrant, [OpenIDTokens()])
        self.register_grant(DeviceGrant, [OpenIDTokens()])
        self.register_endpoint(DeviceEndpoint(self, state.cfg.device_poll_interval))
        self.register_endpoint(Revocation)

    # --- threads -----------------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn` (an authlib call) on a worker thread, never on the event loop."""
        call = functools.partial(fn, *args, **kwargs)
        return await self._loop.run_in_executor(self._executor, call)

    def wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """From a worker thread: run `coro` on the service loop and wait for its result."""
        if _running_loop() is self._loop:       # on the loop itself this would never return
            coro.close()
            raise RuntimeError("OAuthServer.wait called on the event loop")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(BRIDGE_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise OcisError("the identity store did not answer in time") from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- what authlib asks of a framework ----------------------------------------------------
    def query_client(self, client_id: str | None) -> Client | None:
        return self.state.clients.get(client_id or "")

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Only refresh tokens are stored (hashed, in the grant's family); access and id tokens
        are signed JWTs that expire on their own."""
        refresh = token.get("refresh_token")
        if refresh:
            record = request.issued
            if record is None:
                raise RuntimeError("a refresh token without the grant it continues")
            self.wait(self.state.store.add_refresh(refresh, record,
                                                   self.state.cfg.refresh_token_ttl))

    def authenticate_client(self, request: OAuth2Request, methods: list[str],
                            endpoint: str = "token") -> Client:
        """authlib's client_secret_basic / client_secret_post / none, with rules of ours: a failed
        client authentication is always 401, and a client_id in the form must name the client
        that authenticated with Basic."""
        try:
            client: Client = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as exc:
            exc.status_code = 401
            raise
        basic_id, _ = extract_basic_authorization(request.headers)
        form_id = request.payload.client_id
        if basic_id and form_id is not None and form_id != basic_id:
            raise InvalidRequestError("client_id differs from the authenticated client")
        request.client = client
        return client

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        log.debug("idp: %s", name)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        if not isinstance(request, AioRequest):
            raise TypeError("the idp passes AioRequest objects to authlib")
        return request

    def create_json_request(self, request: AioRequest) -> JsonRequest:
        json_request = JsonRequest(request.method, request.uri, request.headers)
        json_request.payload = _Payload(dict(request.payload.data))
        return json_request

    def handle_response(self, status: int, body: Any,
                        headers: list[tuple[str, str]]) -> web.Response:
        """authlib's (status, body, headers) as an aiohttp response. A redirect is an
        authorization response: it also names the issuer (RFC 9207, mix-up defence)."""
        fields = dict(headers)
        fields.pop("Content-Type", None)
        if status in (301, 302, 303):
            location = add_params_to_uri(fields["Location"], [("iss", self.state.cfg.issuer)])
            return web.Response(status=302, headers={"Location": location,
                                                     "Cache-Control": "no-store"})
        if isinstance(body, dict):
            return web.json_response(body, status=status, headers=fields)
        return web.Response(status=status, text=str(body or ""), headers=fields)


def _public_client(query_client: Callable[[str], Client | None],
                   request: OAuth2Request) -> Client | None:
    """authlib's `none` method, also for a public client that names itself with HTTP Basic and
    an empty password (what some OAuth libraries send for a client without a secret)."""
    client_id = request.payload.client_id
    if not client_id:
        basic_id, secret = extract_basic_authorization(request.headers)
        client_id = basic_id if basic_id and not secret else None
    if not client_id or request.payload.data.get("client_secret"):
        return None
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="unknown client")
    return client


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def oauth_request(state: IdpState, request: web.Request, data: dict[str, str], *,
                  path: str | None = None) -> AioRequest:
    """`data` (the query or the form we read) as an AioRequest at its public URI; `path` names
    another endpoint (the consent form resumes an authorization request)."""
    return AioRequest(state, request.method if path is None else "GET",
                      state.cfg.url(request.path if path is None else path), request.headers, data)
