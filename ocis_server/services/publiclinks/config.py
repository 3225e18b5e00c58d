"""What the link pages keep per process: the service context, the link password checker and the
key that signs unlock cookies (random per process: a restart asks for link passwords again)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aiohttp import web

from ocis_server.auth.publiclink import LinkPasswords
from ocis_server.services.context import ServiceContext
from ocis_server.services.thumbnails import Previews


@dataclass(slots=True)
class PagesState:
    ctx: ServiceContext
    passwords: LinkPasswords
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    previews: Previews | None = None     # the server's thumbnails (/s/<token>/preview)


STATE_KEY = web.AppKey("publiclinks_state", PagesState)
