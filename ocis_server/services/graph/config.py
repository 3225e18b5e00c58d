"""Settings of the `graph` service, derived from the server config in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ocis_server.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class GraphConfig:
    public_url: str                  # OCIS_URL without a trailing slash
    data_dir: Path | None = None     # where blobs live: its free space is an unlimited drive's `remaining`
    # Largest quota a project space may get; 0 = no limit. oCIS reads OCIS_SPACES_MAX_QUOTA; the
    # config schema has no such field yet, so the oCIS default (no limit) applies.
    max_quota: int = 0
    # The id of the one Graph `application` whose appRoles are the settings roles. oCIS generates
    # it in `ocis init` (GRAPH_APPLICATION_ID); without one it is derived from the storage id, so
    # it is stable for an instance and differs between instances.
    application_id: str = ""
    default_quota: int = 0           # GRAPH_SPACES_DEFAULT_QUOTA: a new project space's quota
    default_language: str = ""       # OCIS_DEFAULT_LANGUAGE: /me preferredLanguage if none saved

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> GraphConfig:
        app_id = ctx.config.graph_application_id or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"ocis:graph-application:{ctx.config.storage_id}"))
        return cls(public_url=ctx.public_url, data_dir=ctx.config.base_data_path,
                   application_id=app_id,
                   default_quota=max(0, ctx.config.spaces_default_quota),
                   default_language=ctx.config.default_language)


CONFIG_KEY = web.AppKey("graph_config", GraphConfig)
CONTEXT_KEY = web.AppKey("graph_context", ServiceContext)
