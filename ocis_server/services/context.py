"""What a service gets from the runtime: the storage and identity interfaces and its settings.

A service never imports another service or the runtime; everything it needs arrives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocis_server.identity import UserStore
from ocis_server.storage import Storage

if TYPE_CHECKING:
    from ocis_server.config import Config


@dataclass(slots=True)
class ServiceContext:
    config: Config
    storage: Storage
    users: UserStore

    @property
    def public_url(self) -> str:
        """OCIS_URL without a trailing slash, e.g. `http://127.0.0.1:9200`."""
        return self.config.ocis_url.rstrip("/")
