"""Settings of the `settings` service, derived from the server config in one place."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ocis_server.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class SettingsConfig:
    default_language: str = ""      # OCIS_DEFAULT_LANGUAGE: the language of users who chose none

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> SettingsConfig:
        return cls(default_language=ctx.config.default_language)


CONFIG_KEY = web.AppKey("settings_config", SettingsConfig)
CONTEXT_KEY = web.AppKey("settings_context", ServiceContext)
