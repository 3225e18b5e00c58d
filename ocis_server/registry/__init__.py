"""The service registry (MICRO_REGISTRY): where each service instance runs. `memory` (the default)
knows this node's services only; `nats-js-kv` keeps every node's in a JetStream key-value bucket,
each entry renewed by its node and gone once it is not renewed within the TTL."""

from .registry import Entry, Lost, MemoryRegistry, Registry

__all__ = ["Entry", "Lost", "MemoryRegistry", "Registry"]
