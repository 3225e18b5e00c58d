"""Settings of the `auth-app` service, derived from the server config in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ocis_server.services.context import ServiceContext

DEFAULT_EXPIRY = 72 * 3600.0            # oCIS AUTH_APP's documented example lifetime
MAX_EXPIRY = 10 * 366 * 86400.0          # ten years: longer is a typo, not a wish


@dataclass(frozen=True, slots=True)
class AuthAppConfig:
    database: Path                       # <base>/idm/apptokens.db
    app_auth: bool                       # PROXY_ENABLE_APP_AUTH: whether the tokens are accepted
    impersonation: bool                  # AUTH_APP_ENABLE_IMPERSONATION: tokens for other users

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> AuthAppConfig:
        return cls(database=ctx.config.base_data_path / "idm" / "apptokens.db",
                   app_auth=ctx.config.app_auth,
                   impersonation=ctx.config.auth_app_impersonation)


CONFIG_KEY = web.AppKey("authapp_config", AuthAppConfig)
CONTEXT_KEY = web.AppKey("authapp_context", ServiceContext)
