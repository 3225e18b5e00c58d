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
    propfind_depth_infinity_max_entries: int = 100_000   # more below the folder: 403
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


class PollCache:
    """Rendered Depth 0 PROPFIND answers (propfind.py), valid while the storage's change stamp
    stays the same: a sync client's repeated "did the etag change?" costs no rendering."""

    __slots__ = ("bodies", "stamp")
    LIMIT = 1024

    def __init__(self) -> None:
        self.stamp: object = None
        self.bodies: dict[tuple[object, ...], bytes] = {}

    def get(self, stamp: object, key: tuple[object, ...]) -> bytes | None:
        return self.bodies.get(key) if stamp == self.stamp else None

    def put(self, stamp: object, key: tuple[object, ...], body: bytes) -> None:
        if stamp != self.stamp:
            self.stamp, self.bodies = stamp, {}
        elif len(self.bodies) >= self.LIMIT:
            self.bodies.clear()
        self.bodies[key] = body


POLLS_KEY = web.AppKey("ocdav_polls", PollCache)
