"""oCIS identifiers: resource id `<storageid>$<spaceid>!<nodeid>`, space id `<storageid>$<spaceid>`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from .errors import BadRequest

# Fixed storage ids of the virtual providers (reva pkg/utils/utils.go).
SHARE_JAIL_ID = "a0ca6a90-a365-4782-871e-d44447bbc668"
PUBLIC_STORAGE_ID = "7993447f-687f-490d-875c-ac95e89a62a4"
OCM_STORAGE_ID = "89f37a33-858b-45fa-8890-a1f2b27d90e1"


class _RandomPool:
    """os.urandom bytes drawn 4 KiB at a time: one getrandom call per 256 ids (a call costs tens
    of microseconds on a virtual machine, several per request). Emptied in a forked child."""

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # In a forked child: nothing the parent drew, and a lock no other thread can hold.
        self._lock = threading.Lock()
        self._bytes = bytearray()

    def take(self, n: int) -> bytearray:
        with self._lock:
            if len(self._bytes) < n:
                self._bytes += os.urandom(4096)
            out = self._bytes[:n]
            del self._bytes[:n]
        return out


_POOL = _RandomPool()


def new_id() -> str:
    """A random (version 4) UUID in its usual text form, as `str(uuid.uuid4())`."""
    raw = _POOL.take(16)
    raw[6] = (raw[6] & 0x0F) | 0x40     # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80     # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class ResourceId:
    storage_id: str
    space_id: str
    node_id: str = ""

    @property
    def space(self) -> str:
        """The space id string `<storageid>$<spaceid>`."""
        return f"{self.storage_id}${self.space_id}"

    def __str__(self) -> str:
        if not self.node_id:
            return self.space
        return f"{self.storage_id}${self.space_id}!{self.node_id}"

    @classmethod
    def parse(cls, value: str) -> ResourceId:
        """Parse a space or resource id; `%24`/`%21` are accepted for `$`/`!`."""
        text = value.replace("%24", "$").replace("%21", "!")
        storage, sep, rest = text.partition("$")
        if not sep:
            # A bare space id (personal spaces are addressed by user id alone in some clients).
            storage, rest = "", text
        space, _, node = rest.partition("!")
        if not space or any(c in text for c in "/\\\x00") or "$" in rest or "!" in node:
            raise BadRequest(f"invalid id: {value!r}")
        return cls(storage, space, node)
