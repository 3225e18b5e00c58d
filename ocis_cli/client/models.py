"""Plain dataclasses the SDK returns: drives (Graph), resources (WebDAV), runtime services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocis_cli.client.protocol import OCM_STORAGE_ID


@dataclass(frozen=True, slots=True)
class Drive:
    """A storage space as Graph describes it; `raw` keeps the object exactly as the server sent it."""

    id: str
    name: str
    drive_type: str
    alias: str
    web_dav_url: str
    quota_used: int | None
    quota_total: int | None
    owner_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_share(self) -> bool:
        """A received, accepted share (Graph's `mountpoint` drive: its root is the shared item)."""
        return self.drive_type == "mountpoint"

    @property
    def is_federated(self) -> bool:
        """A remote space: a share received from another server over OCM (its owner is a
        federated address such as `einstein@zurich.test`)."""
        return self.id.startswith(OCM_STORAGE_ID + "$")

    @property
    def is_remote_link(self) -> bool:
        """A space of another server the user registered by URL (`ocis remote add`): its WebDAV
        is opened there directly, with the user's own token."""
        return self.drive_type == "remote"

    @property
    def unreachable(self) -> str:
        """For a remote space whose server does not answer now: why ('' when it does)."""
        status = self.raw.get("@ocis.federation") or {}
        if not self.is_federated or status.get("reachable", True):
            return ""
        return str(status.get("message") or "unreachable")

    @property
    def owner_name(self) -> str:
        """Who owns the space, or for a share the owner of the shared item ('' when unsaid)."""
        remote = (self.raw.get("root") or {}).get("remoteItem") or {}
        shared = remote.get("shared") or {}
        for holder in (shared.get("owner"), shared.get("sharedBy"), self.raw.get("owner")):
            user = (holder or {}).get("user") or {}
            if user.get("displayName"):
                return str(user["displayName"])
        return ""

    @property
    def share_role_ids(self) -> list[str]:
        """For a share: the unified role ids the share grants the signed-in user."""
        remote = (self.raw.get("root") or {}).get("remoteItem") or {}
        return [str(r) for p in remote.get("permissions") or [] for r in p.get("roles") or []]

    @property
    def is_file_share(self) -> bool:
        """A share of one file (its mount point is the file itself)."""
        return "file" in ((self.raw.get("root") or {}).get("remoteItem") or {})

    @classmethod
    def from_graph(cls, obj: dict[str, Any]) -> Drive:
        quota = obj.get("quota") or {}
        root = obj.get("root") or {}
        owner = ((obj.get("owner") or {}).get("user") or {}).get("id", "")
        return cls(
            id=str(obj.get("id", "")),
            name=str(obj.get("name", "")),
            drive_type=str(obj.get("driveType", "")),
            alias=str(obj.get("driveAlias", "")),
            web_dav_url=str(root.get("webDavUrl", "")),
            quota_used=_int_or_none(quota.get("used")),
            quota_total=_int_or_none(quota.get("total")),
            owner_id=str(owner),
            raw=obj,
        )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Resource:
    """A file or folder from a PROPFIND answer; `path` is space-relative with a leading /."""

    path: str
    name: str
    is_folder: bool
    size: int
    mtime: datetime | None
    etag: str
    id: str
    permissions: str
    content_type: str = ""
    checksums: str = ""
    share_types: tuple[int, ...] = ()   # oc:share-types: how its owner shares it (0 user,
                                        # 1 group, 3 public link, 6 federated); seen by the owner

    @property
    def shared_with_me(self) -> bool:
        """Reached through a share (oc:permissions carries S)."""
        return "S" in self.permissions

    @property
    def type(self) -> str:
        return "folder" if self.is_folder else "file"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of `ocis ls -o json` / `ocis stat -o json`."""
        return {
            "name": self.name,
            "type": self.type,
            "size": self.size,
            "mtime": self.mtime.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.mtime else None,
            "etag": self.etag,
            "id": self.id,
            "permissions": self.permissions,
        }


@dataclass(frozen=True, slots=True)
class ServiceState:
    """One service in the runtime's supervisor (`GET /services` of the control API)."""

    name: str
    state: str
    group: int | None
    restarts: int
    since: str
    node: str = ""           # the process it runs in (host-pid), from the registry
    address: str = ""        # where that node is reached

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ServiceState:
        return cls(name=str(obj.get("name", "")), state=str(obj.get("state", "")),
                   group=_int_or_none(obj.get("group")),
                   restarts=_int_or_none(obj.get("restarts")) or 0,
                   since=str(obj.get("since") or ""), node=str(obj.get("node") or ""),
                   address=str(obj.get("address") or ""))


@dataclass(frozen=True, slots=True)
class Health:
    """The runtime's health answer: healthy or not, and the JSON detail it sent (if any).
    `degraded`: not healthy, but serving; a service waits for something outside (its disk,
    the LDAP server) and answers 503 until it is back."""

    healthy: bool
    status: int
    detail: Any
    degraded: bool = False
