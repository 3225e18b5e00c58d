"""Settings of the `sse` service, read from the server config in one place."""

from __future__ import annotations

from dataclasses import dataclass

from ocis_server.services.context import ServiceContext

from .hub import Limits


@dataclass(frozen=True, slots=True)
class SseConfig:
    keepalive: float            # SSE_KEEPALIVE_INTERVAL
    limits: Limits

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> SseConfig:
        c = ctx.config
        return cls(keepalive=max(0.05, float(c.sse_keepalive_interval)),
                   limits=Limits(streams_per_user=max(1, c.sse_max_streams_per_user),
                                 buffer=max(1, c.sse_buffer_size),
                                 replay_window=max(0.0, float(c.sse_replay_window)),
                                 replay_size=max(1, c.sse_replay_size)))
