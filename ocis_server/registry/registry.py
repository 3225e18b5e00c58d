"""Registry entries and the in-process registry (MICRO_REGISTRY=memory)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One running service instance: `node` names the process (host-pid), `address` is where it
    is reached, `state` the supervisor's word for it (ready, degraded, starting, failed, ...)."""

    name: str
    node: str
    address: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(*(str(data.get(k, "")) for k in ("name", "node", "address", "state")))


Entries = Callable[[], list[Entry]]


class Registry(Protocol):
    async def start(self, local: Entries) -> None: ...
    async def entries(self) -> list[Entry]: ...
    async def close(self) -> None: ...


class MemoryRegistry:
    """This node's services, as its supervisor sees them now (a single node needs no more)."""

    def __init__(self) -> None:
        self._local: Entries = list

    async def start(self, local: Entries) -> None:
        self._local = local

    async def entries(self) -> list[Entry]:
        return self._local()

    async def close(self) -> None:
        return None
