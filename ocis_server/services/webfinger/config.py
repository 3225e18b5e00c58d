"""Settings of the `webfinger` service, derived from the server config in one place, including the
instance rules (oCIS `webfinger.instances`: claim, regex, href template, titles, break)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.config import ConfigError
from ocis_server.services.context import ServiceContext

_RULE_KEYS = {"claim", "regex", "href", "title", "break"}


@dataclass(frozen=True, slots=True)
class InstanceRule:
    claim: str                      # token claim the regex must match in full
    regex: re.Pattern[str]
    href: str                       # may hold {{.claim}} placeholders, filled from the token
    titles: dict[str, str]
    stop: bool = False              # `break`: later rules are not looked at after a match


@dataclass(frozen=True, slots=True)
class WebfingerConfig:
    issuer: str          # OCIS_OIDC_ISSUER, else OCIS_URL (the embedded IdP)
    host: str            # host[:port] of OCIS_URL, the domain of `acct:` resources we answer for
    rules: tuple[InstanceRule, ...]

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> WebfingerConfig:
        config = ctx.config
        issuer = (config.oidc_issuer or ctx.public_url).rstrip("/")
        instance = (config.webfinger_instance_url or ctx.public_url).rstrip("/")
        rules = tuple(_rule(table) for table in config.webfinger_instances) or (
            InstanceRule("sub", re.compile(".+"), instance, {"en": "oCIS Instance"}),)
        return cls(issuer=issuer, host=urlsplit(ctx.public_url).netloc.lower(), rules=rules)


def _rule(table: dict[str, Any]) -> InstanceRule:
    unknown = set(table) - _RULE_KEYS
    claim, pattern, href = table.get("claim"), table.get("regex", ".+"), table.get("href")
    title = table.get("title", {"en": "oCIS Instance"})
    if unknown or not isinstance(claim, str) or not isinstance(href, str) \
            or not isinstance(pattern, str) or not isinstance(title, dict):
        raise ConfigError("webfinger.instances: each rule needs claim, href (strings), optional "
                          f"regex, title (table), break; unknown keys {sorted(unknown)}")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"webfinger.instances: bad regex {pattern!r}: {exc}") from None
    return InstanceRule(claim, regex, href, {str(k): str(v) for k, v in title.items()},
                        bool(table.get("break", False)))


CONFIG_KEY = web.AppKey("webfinger_config", WebfingerConfig)
