"""Settings of the `ocm` service, derived from the server config in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.config import ConfigError
from ocis_server.services.context import ServiceContext

from .providers import normalize_domain

PROVIDERS_FILE = "ocmproviders.json"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(text: str, name: str) -> float:
    """Seconds of a Go-style duration (`24h`, `24h0m0s`, `1h30m`, `10s`; also `7d`); a bare
    number is seconds. ConfigError for anything else or a value that is not positive."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ConfigError(f"{name} {text!r} is not a duration (e.g. 24h, 30m, 1h30m)") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ConfigError(f"{name} must be positive")
    return seconds


@dataclass(frozen=True, slots=True)
class OcmConfig:
    public_url: str             # OCIS_URL without a trailing slash
    domain: str                 # OCM_DOMAIN, else the host[:port] of OCIS_URL
    providers_file: Path        # OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE
    invite_insecure: bool       # OCM_OCM_INVITE_MANAGER_INSECURE
    share_insecure: bool        # OCM_OCM_SHARE_PROVIDER_INSECURE
    storage_insecure: bool      # OCM_OCM_STORAGE_PROVIDER_INSECURE
    connect_timeout: float
    timeout: float
    max_response_size: int
    expose_recipient: bool      # OCM_OCMD_EXPOSE_RECIPIENT_DISPLAY_NAME
    invite_lifetime: float = 86400.0    # OCM_OCM_INVITE_MANAGER_TOKEN_EXPIRATION, seconds
    verify_hostname: bool = False       # OCM_OCM_PROVIDER_AUTHORIZER_VERIFY_REQUEST_HOSTNAME

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> OcmConfig:
        config = ctx.config
        raw = config.ocm_domain or (urlsplit(ctx.public_url).netloc or "")
        domain = normalize_domain(raw)
        if domain is None:
            raise ConfigError(f"OCM_DOMAIN {raw!r} is not a domain (e.g. cloud.example.org, no "
                              "scheme or path)")
        path = Path(config.ocm_providers_file).expanduser() if config.ocm_providers_file \
            else config.config_dir / PROVIDERS_FILE
        if config.ocm_timeout <= 0 or config.ocm_connect_timeout <= 0 \
                or config.ocm_max_response_size <= 0:
            raise ConfigError("OCM_CLIENT_TIMEOUT, OCM_CLIENT_CONNECT_TIMEOUT and "
                              "OCM_CLIENT_MAX_RESPONSE_SIZE must be positive")
        return cls(public_url=ctx.public_url, domain=domain, providers_file=path,
                   invite_insecure=config.ocm_invite_manager_insecure,
                   share_insecure=config.ocm_share_provider_insecure,
                   storage_insecure=config.ocm_storage_provider_insecure,
                   connect_timeout=config.ocm_connect_timeout, timeout=config.ocm_timeout,
                   max_response_size=config.ocm_max_response_size,
                   expose_recipient=config.ocm_expose_recipient_display_name,
                   invite_lifetime=duration(config.ocm_invite_token_expiration,
                                            "OCM_OCM_INVITE_MANAGER_TOKEN_EXPIRATION"),
                   verify_hostname=config.ocm_verify_request_hostname)


CONFIG_KEY = web.AppKey("ocm_config", OcmConfig)
