"""Settings of the ocdav service, read from the global config with oCIS' defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ocis_server.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class OcdavConfig:
    max_xml_body: int = 1 << 20          # bytes of a PROPFIND/PROPPATCH/LOCK body
    max_xml_depth: int = 32              # element nesting of a request body
    allow_propfind_depth_infinity: bool = False   # OCDAV_ALLOW_PROPFIND_DEPTH_INFINITY
    lock_timeout_default: int = 3600     # seconds, when LOCK has no Timeout header
    lock_timeout_max: int = 86400        # `Timeout: Infinite` and larger values are capped here
    stream_chunk: int = 64 * 1024        # PROPFIND response bytes per write

    @classmethod
    def from_config(cls, config: Any) -> OcdavConfig:
        """Take the `ocdav_<name>` settings the global config defines (e.g.
        `ocdav_allow_propfind_depth_infinity` for OCDAV_ALLOW_PROPFIND_DEPTH_INFINITY);
        every other value keeps its default."""
        values = {}
        for name in cls.__dataclass_fields__:
            value = getattr(config, f"ocdav_{name}", None)
            if value is not None:
                values[name] = value
        return cls(**values)


# Keys of the values create_app stores on its aiohttp application.
CONTEXT_KEY = web.AppKey("ocdav_context", ServiceContext)
CONFIG_KEY = web.AppKey("ocdav_config", OcdavConfig)
