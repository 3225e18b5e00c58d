"""Registry entries and the in-process registry (MICRO_REGISTRY=memory)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One running service instance: `node` names the process (host-pid), `address` is where it
    is reached, `state` the supervisor's word for it (ready, degraded, starting, failed, ...);
    `metadata` what a service adds for its clients (storage-users: `internal`, the URL of its
    internal API, and `mount_id`, its storage id)."""

    name: str
    node: str
    address: str
    state: str
    metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        meta = data.get("metadata")
        name, node, address, state = (str(data.get(k, ""))
                                      for k in ("name", "node", "address", "state"))
        return cls(name, node, address, state,
                   {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {})


Entries = Callable[[], list[Entry]]


@dataclass(frozen=True, slots=True)
class Lost:
    """An instance of another node that stopped renewing its entry (killed, cut off): `since`
    (epoch seconds) it was noticed gone."""

    entry: Entry
    since: float


class Registry(Protocol):
    async def start(self, local: Entries) -> None: ...
    async def entries(self) -> list[Entry]: ...
    def lost(self) -> list[Lost]: ...
    async def close(self) -> None: ...


class MemoryRegistry:
    """This node's services, as its supervisor sees them now (a single node needs no more)."""

    def __init__(self) -> None:
        self._local: Entries = list

    async def start(self, local: Entries) -> None:
        self._local = local

    async def entries(self) -> list[Entry]:
        return self._local()

    def lost(self) -> list[Lost]:
        return []                 # one node: nothing of another node to lose

    async def close(self) -> None:
        return None
