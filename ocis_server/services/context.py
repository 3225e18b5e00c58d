"""What a service gets from the runtime: the storage and identity interfaces and its settings.

A service never imports another service or the runtime; everything it needs arrives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from ocis_server.auth.logins import LoginThrottle
from ocis_server.events import EventBus, InProcessBus
from ocis_server.identity import UserStore
from ocis_server.registry import Registry
from ocis_server.storage import RemoteShare, Storage

if TYPE_CHECKING:
    from ocis_server.auth.keys import KeySet
    from ocis_server.config import Config
    from ocis_server.identity.apptokens import AppTokenRules
    from ocis_server.sharing.federated_sent import FederationPeer


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    """How the sharer of a federated share answers for it right now."""

    reachable: bool
    message: str = ""          # why not (or "" when reachable); never a host path
    etag: str = ""             # the remote root's ETag when reachable
    mtime: float = 0.0


class RemoteSpaces(Protocol):
    """Remote spaces (accepted federated shares): the ocm service serves this while it runs in
    the process; WebDAV and Graph reach the sharer only through it (the providers allow-list)."""

    async def status(self, share: RemoteShare) -> RemoteStatus: ...

    async def forward(self, request: web.Request, share: RemoteShare,
                      path: str, mount: str) -> web.StreamResponse: ...

    async def put(self, request: web.Request, share: RemoteShare, path: str,
                  headers: dict[str, str]) -> tuple[int, dict[str, str]]: ...

    async def create_upload(self, request: web.Request, share: RemoteShare, folder: str,
                            headers: dict[str, str],
                            user_id: str) -> tuple[int, dict[str, str], str]: ...

    def upload_share(self, upload_id: str, user_id: str) -> str | None: ...

    async def forward_upload(self, request: web.Request, share: RemoteShare, upload_id: str,
                             user_id: str) -> web.StreamResponse: ...


class ReplayMark:
    """Put on a request the proxy may answer again from memory (runtime/replay.py): its handler
    sets `replayable` when the answer depends only on the stored state (the storage's change
    stamp), the caller (the user store's generation) and the request's bytes, never on the time
    (no share, expiring membership, lock or link behind it) nor on a side effect it must repeat."""

    __slots__ = ("replayable",)

    def __init__(self) -> None:
        self.replayable = False


REPLAY_MARK = web.RequestKey("ocis_replay", ReplayMark)


@dataclass(slots=True)
class ServiceContext:
    config: Config
    storage: Storage
    users: UserStore
    keys: KeySet | None = None      # the embedded IdP's signing keys while it runs in this process
    app_tokens: AppTokenRules | None = None   # app token store while auth-app runs here
    # The one failed-login throttle every password path shares (auth/logins.py). The runtime
    # configures it from PROXY_LOGIN_*; a context built by hand gets the defaults.
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # Other OCM servers, for sharing with `user@domain` (services/ocm/peer.py): set by the
    # runtime when OCIS_ENABLE_OCM is on, else None (federated sharing is off).
    ocm: FederationPeer | None = None
    remote_spaces: RemoteSpaces | None = None   # while the ocm service runs in this process
    # The event bus (ocis_server/events): storage, sharing and identity changes are published
    # on it once committed; the sse and userlog services consume them.
    events: EventBus = field(default_factory=InProcessBus)
    # The service registry of this node (MICRO_REGISTRY), set by the runtime: another node's
    # services are found with `ocis_server.registry.lookup.Lookup(ctx.registry, ...)`.
    registry: Registry | None = None

    @property
    def public_url(self) -> str:
        """OCIS_URL without a trailing slash, e.g. `http://127.0.0.1:9200`."""
        return self.config.ocis_url.rstrip("/")
