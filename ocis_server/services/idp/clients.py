"""The IdP's registered clients, exactly as oCIS ships them (protocol-notes.md §12) plus our public
`ocis-cli`, and the redirect-URI rule: exact match, except loopback redirects of native clients,
whose port (and path) may vary (RFC 8252 §7.3). A Client is authlib's client model (ClientMixin):
authlib's grants and endpoints ask it about secrets, auth methods, redirects and grant types."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin  # type: ignore[import-untyped]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_GRANTS = frozenset({"authorization_code", "refresh_token"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

DESKTOP_ID = "xdXOt13JKxym1B1QcEncf2XDkLAexMBFwiT9j6EfhhHFJhs2KM9jbjTmf8JBXE69"
DESKTOP_SECRET = "UBntmLjC2yYCeHwsyj73Uwo9TAaecAetRwMw0xYcvNL9yRdLSUi0hUAHfvCHFeFh"
ANDROID_ID = "e4rAsNUSIUs0lF4nbv9FmCeUkTlV9GdgTLDH1b5uie7syb90SzEVrbN7HIpmWJeD"
ANDROID_SECRET = "dInFYGV33xKzhbRmpqQltYNdfLdJIfJ9L5ISoKhNoT9qZftpdWSP71VrpGR9pmoD"
IOS_ID = "mxd5OQDk6es5LzOzRvidJNfXLUZS2oN3oUFeXPP8LpPrhx3UroJFduGEYIBOxkY1"
IOS_SECRET = "KFeFWWEZO9TkisIQzR3fo7hfiMXlOpaqP8CFuTbSHzV1TUuGECglPxpiVKJfOXIx"
CLI_ID = "ocis-cli"
SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})


def granted_scope(requested: str | None) -> str:
    """The supported scopes out of a request, in a stable order; unknown ones are dropped."""
    asked = set((requested or "").split())
    return " ".join(s for s in SUPPORTED_SCOPES if s in asked)


@dataclass(frozen=True, slots=True)
class Client(ClientMixin):  # type: ignore[misc]
    id: str
    name: str
    redirect_uris: tuple[str, ...]
    secret: str | None = None        # None: a public client (token_endpoint_auth_method none)
    native: bool = False             # loopback redirects on any port (RFC 8252)
    trusted: bool = False            # skips the consent page unless prompt=consent
    grant_types: frozenset[str] = CODE_GRANTS

    @property
    def public(self) -> bool:
        return self.secret is None

    def check_secret(self, secret: str | None) -> bool:
        """A public client sends no secret; a confidential one the registered secret."""
        if self.secret is None:
            return not secret
        return secret is not None and hmac.compare_digest(secret.encode(), self.secret.encode())

    def redirect_allowed(self, uri: str) -> bool:
        if not uri or "#" in uri or not uri.isprintable() or " " in uri or "\\" in uri:
            return False                  # RFC 6749 §3.1.2: no fragment; nothing to smuggle
        if uri in self.redirect_uris:
            return True
        return self.native and _loopback(uri) and any(_loopback(r) for r in self.redirect_uris)

    # --- authlib's ClientMixin -------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.id

    def get_default_redirect_uri(self) -> None:
        return None                       # redirect_uri is required in every request

    def get_allowed_scope(self, scope: str | None) -> str:
        return granted_scope(scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return self.redirect_allowed(redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret is not None and self.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Public clients authenticate with `none` only, confidential ones with their secret
        (Basic or in the form), at every endpoint."""
        return method == "none" if self.public else method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def _loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port                        # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS and not parts.username


def builtin_clients(public_url: str, trusted: Iterable[str]) -> dict[str, Client]:
    """web, the ownCloud desktop/Android/iOS apps, and ocis-cli; `trusted` skip consent."""
    base = public_url.rstrip("/")
    clients = (
        Client("web", "ownCloud Web", (f"{base}/", f"{base}/oidc-callback.html",
                                       f"{base}/oidc-silent-redirect.html")),
        Client(DESKTOP_ID, "ownCloud desktop app", ("http://127.0.0.1", "http://localhost"),
               secret=DESKTOP_SECRET, native=True),
        Client(ANDROID_ID, "ownCloud Android app", ("oc://android.owncloud.com",),
               secret=ANDROID_SECRET),
        Client(IOS_ID, "ownCloud iOS app", ("oc://ios.owncloud.com", "oc.ios://ios.owncloud.com"),
               secret=IOS_SECRET),
        Client(CLI_ID, "ocis command line", ("http://127.0.0.1", "http://localhost", "http://[::1]"),
               native=True, grant_types=CODE_GRANTS | {DEVICE_GRANT}),
    )
    wanted = set(trusted)
    return {c.id: Client(c.id, c.name, c.redirect_uris, c.secret, c.native, c.id in wanted,
                         c.grant_types) for c in clients}
