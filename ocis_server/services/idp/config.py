"""Settings of the `idp` service, derived from the server config in one place, and the app keys
under which a mounted IdP app finds its state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from ocis_server.services.context import ServiceContext

if TYPE_CHECKING:
    from .state import IdpState

CODE_TTL = 60                 # seconds an authorization code lives (RFC 6749 §4.1.2: short)
DEVICE_CODE_TTL = 600         # seconds a device code waits for the person (RFC 8628 §3.2)
SESSION_TTL = 8 * 3600        # seconds a browser sign-in at the IdP lasts
DEVICE_CODE_MAX_FAILURES = 10  # wrong user codes per address before it is throttled

# lico's endpoints (protocol-notes.md §12) and ours for the device grant
AUTHORIZE_PATH = "/signin/v1/identifier/_/authorize"
LOGIN_PATH = "/signin/v1/identifier/_/login"
CONSENT_PATH = "/signin/v1/identifier/_/consent"
ENDSESSION_PATH = "/signin/v1/identifier/_/endsession"
DEVICE_PAGE_PATH = "/signin/v1/device"
DEVICE_CONFIRM_PATH = "/signin/v1/device/confirm"
TOKEN_PATH = "/konnect/v1/token"
USERINFO_PATH = "/konnect/v1/userinfo"
JWKS_PATH = "/konnect/v1/jwks.json"
DEVICE_AUTHORIZATION_PATH = "/konnect/v1/device_authorization"
REVOCATION_PATH = "/konnect/v1/revocation"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class IdpConfig:
    issuer: str                  # OCIS_OIDC_ISSUER or OCIS_URL, no trailing slash
    access_token_ttl: int
    id_token_ttl: int
    refresh_token_ttl: int
    signing_method: str
    trusted_clients: tuple[str, ...]
    device_poll_interval: int
    key_rotation_interval: float
    failure_window: float        # PROXY_LOGIN_FAILURE_WINDOW (sign-ins use ctx.throttle)
    trusted_proxies: tuple[str, ...]

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> IdpConfig:
        c = ctx.config
        return cls(issuer=(c.oidc_issuer or ctx.public_url).rstrip("/"),
                   access_token_ttl=c.idp_access_token_expiration,
                   id_token_ttl=c.idp_id_token_expiration,
                   refresh_token_ttl=c.idp_refresh_token_expiration,
                   signing_method=c.idp_signing_method,
                   trusted_clients=tuple(c.idp_trusted_clients),
                   device_poll_interval=c.idp_device_poll_interval,
                   key_rotation_interval=c.idp_key_rotation_interval,
                   failure_window=c.login_failure_window,
                   trusted_proxies=tuple(c.trusted_proxies))

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    def url(self, path: str) -> str:
        return self.issuer + path


STATE_KEY: web.AppKey[IdpState] = web.AppKey("idp_state")
