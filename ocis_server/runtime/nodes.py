"""Which registry this node uses (MICRO_REGISTRY) and what it registers: one entry per service of
its supervisor, named by node (host-pid) and address (the node's HTTP listener, else its runtime
control API)."""

from __future__ import annotations

import os
import re
import socket

from ocis_server.config import Config, ConfigError
from ocis_server.registry import Entry, MemoryRegistry, Registry

from .supervisor import Supervisor

KINDS = ("memory", "nats-js-kv")


def node_name() -> str:
    """host-pid, as a key-value key allows it (letters, digits, - and _)."""
    return re.sub(r"[^-\w]", "-", f"{socket.gethostname()}-{os.getpid()}")


def open_registry(config: Config) -> Registry:
    if config.registry not in KINDS:
        raise ConfigError(f"MICRO_REGISTRY={config.registry!r}: expected one of {', '.join(KINDS)}")
    if config.registry == "memory":
        return MemoryRegistry()
    if not config.registry_address:
        raise ConfigError("MICRO_REGISTRY=nats-js-kv needs MICRO_REGISTRY_ADDRESS (host:port)")
    from ocis_server.registry.natskv import NatsKvRegistry
    return NatsKvRegistry(config.registry_address, ttl=max(1.0, config.register_ttl),
                          interval=max(0.2, config.register_interval))


def local_entries(supervisor: Supervisor, node: str, http: str, runtime: str) -> list[Entry]:
    """An HTTP service is reached at this node's proxy (`http`; none: "" so that no other node's
    proxy sends it requests), every other service is named by the node's HTTP listener, else its
    control API. A unit with an `endpoint()` (storage-users: its internal API) adds it as
    metadata."""
    apps = {u.spec.name for u in supervisor.units if u.spec.app}
    meta: dict[str, dict[str, str]] = {}
    for unit in supervisor.units:
        endpoint = getattr(unit, "endpoint", None)
        found = endpoint() if callable(endpoint) else None
        if found:
            meta[unit.spec.name] = found
    return [Entry(s.name, node, http if s.name in apps else (http or runtime), s.state.value,
                  meta.get(s.name, {}))
            for s in supervisor.status.values()]
