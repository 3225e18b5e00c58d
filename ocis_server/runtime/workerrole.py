"""Which worker this process is, when `ocis server` runs several (OCIS_WORKERS, runtime/workers.py).

The parent hands its workers these environment variables (internal, not settings):
`OCIS_WORKER_INDEX` (0 .. count-1), `OCIS_WORKER_COUNT`, `OCIS_WORKER_HUB` (the unix socket of
the event relay, workerbus.py) and `OCIS_WORKER_READY_FD` (a pipe the worker writes one byte to
once it serves). Worker 0 is the primary: it alone runs what must run once per node (the control
API on OCIS_RUNTIME_PORT, the idm LDAP listener, the storage's and user store's background
rounds, the event consumers that are not tied to a client connection).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

INDEX, COUNT, HUB, READY_FD = ("OCIS_WORKER_INDEX", "OCIS_WORKER_COUNT", "OCIS_WORKER_HUB",
                               "OCIS_WORKER_READY_FD")
HEADER = "X-Ocis-Worker"     # with OCIS_WORKERS_DEBUG: the index of the worker that answered
# Groups whose consumer is a client's connection held by this worker (an SSE stream, a remote
# server following a federated share): every worker consumes them. Every other group is
# background work, consumed by the primary alone.
CONNECTION_GROUPS = ("clientlog",)
CONNECTION_GROUP_PREFIXES = ("ocm-share-",)
ONLY_PRIMARY_SERVICES = ("idm",)    # a listener of its own on a fixed port


def per_connection(group: str) -> bool:
    return group in CONNECTION_GROUPS or group.startswith(CONNECTION_GROUP_PREFIXES)


@dataclass(frozen=True, slots=True)
class WorkerRole:
    index: int
    count: int
    hub: str = ""
    ready_fd: int = -1

    @property
    def primary(self) -> bool:
        return self.index == 0

    @classmethod
    def from_env(cls) -> WorkerRole | None:
        """This process's role, or None when it is not a worker (OCIS_WORKERS=1)."""
        index = os.environ.get(INDEX)
        if index is None:
            return None
        return cls(int(index), int(os.environ.get(COUNT, "1")), os.environ.get(HUB, ""),
                   int(os.environ.get(READY_FD, "-1")))

    def ready(self) -> None:
        """Tell the parent this worker serves (once)."""
        if self.ready_fd < 0:
            return
        try:
            os.write(self.ready_fd, b"1")
            os.close(self.ready_fd)
        except OSError:
            pass
