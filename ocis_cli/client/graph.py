"""LibreGraph: the signed-in user, the drives (spaces) they can reach, and administering a drive:
rename, quota, disable, restore, purge, its members (protocol-notes.md §6)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ocis_cli.client import protocol
from ocis_cli.client.errors import BadRequest, ServerError
from ocis_cli.client.http import HttpClient
from ocis_cli.client.models import Drive


class Graph:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def me(self) -> dict[str, Any]:
        """The signed-in user (`GET /graph/v1.0/me`); raises AuthError for bad credentials."""
        doc = await self.http.json("GET", "/graph/v1.0/me")
        if not isinstance(doc, dict):
            raise ServerError("GET /graph/v1.0/me: unexpected answer")
        return doc

    async def my_drives_raw(self, *, shares: bool = False) -> list[dict[str, Any]]:
        """`GET /graph/v1.0/me/drives`: the drive objects exactly as the server sent them. With
        `shares`, `v1beta1` (as ownCloud Web asks): also the share jail (`virtual`) and one
        `mountpoint` drive per accepted share, whose root is the shared item."""
        path = f"/graph/{'v1beta1' if shares else 'v1.0'}/me/drives"
        doc = await self.http.json("GET", path)
        value = doc.get("value") if isinstance(doc, dict) else None
        if not isinstance(value, list):
            raise ServerError(f"GET {path}: unexpected answer")
        found = [d for d in value if isinstance(d, dict)]
        for drive in found:         # remote spaces registered by URL: WebDAV goes straight there
            url = str((drive.get("root") or {}).get("webDavUrl") or "")
            if drive.get("driveType") == "remote" and url.startswith(("https://", "http://")):
                self.http.remote_spaces[str(drive.get("id", ""))] = url.rstrip("/") + "/"
        return found

    async def my_drives(self, *, shares: bool = False) -> list[Drive]:
        return [Drive.from_graph(d) for d in await self.my_drives_raw(shares=shares)]

    async def drive(self, drive_id: str) -> Drive:
        doc = await self.http.json("GET", f"/graph/v1.0/drives/{quote(drive_id, safe='')}")
        return Drive.from_graph(doc)

    async def create_drive(self, name: str, *, quota: int | None = None,
                           description: str | None = None) -> Drive:
        """Create a project space (`POST /graph/v1.0/drives`, 201)."""
        body: dict[str, Any] = {"name": name, "driveType": "project"}
        if quota is not None:
            body["quota"] = {"total": quota}
        if description:
            body["description"] = description
        doc = await self.http.json("POST", "/graph/v1.0/drives", body=body)
        if not isinstance(doc, dict):
            raise ServerError("POST /graph/v1.0/drives: unexpected answer")
        return Drive.from_graph(doc)

    # --- administering a drive (protocol-notes.md §6: PATCH/DELETE /v1.0/drives/{id}) ---------------
    async def update_drive(self, drive_id: str, *, name: str | None = None,
                           description: str | None = None, quota: int | None = None) -> Drive:
        """Rename, describe or set the quota (bytes; 0 = unlimited where the server allows it)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if quota is not None:
            body["quota"] = {"total": quota}
        doc = await self.http.json("PATCH", f"/graph/v1.0/drives/{quote(drive_id, safe='')}",
                                   body=body)
        return Drive.from_graph(doc)

    async def disable_drive(self, drive_id: str) -> None:
        """Disable a space (its members lose access; a manager may restore or purge it)."""
        await self.http.request("DELETE", f"/graph/v1.0/drives/{quote(drive_id, safe='')}")

    async def restore_drive(self, drive_id: str) -> Drive:
        _, _, raw = await self.http.request(
            "PATCH", f"/graph/v1.0/drives/{quote(drive_id, safe='')}", data=b"{}",
            headers={"Restore": "T", "Content-Type": "application/json",
                     "Accept": "application/json"})
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise ServerError("PATCH drive: the server sent invalid JSON") from exc
        return Drive.from_graph(doc)

    async def purge_drive(self, drive_id: str) -> None:
        """Delete a disabled space and everything in it, for good."""
        await self.http.request("DELETE", f"/graph/v1.0/drives/{quote(drive_id, safe='')}",
                                headers={"Purge": "T"})

    async def principal_id(self, name: str, *, group: bool = False) -> str:
        """The id of a user (by login name or id) or a group (by name or id)."""
        kind = "groups" if group else "users"
        doc = await self.http.json("GET", f"/graph/v1.0/{kind}/{quote(name, safe='')}")
        if not isinstance(doc, dict) or not doc.get("id"):
            raise ServerError(f"GET {kind}/{name}: unexpected answer")
        return str(doc["id"])

    # --- project space members (sharing NG on the drive root; protocol-notes.md §6, §7) -----------
    def _root(self, drive_id: str) -> str:
        return f"/graph/v1beta1/drives/{quote(drive_id, safe='')}/root"

    async def drive_members(self, drive_id: str) -> list[SpaceMember]:
        """The members of a project space with their roles and expiry (`root/permissions`)."""
        doc = await self.http.json("GET", self._root(drive_id) + "/permissions")
        value = doc.get("value") if isinstance(doc, dict) else None
        if not isinstance(value, list):
            raise ServerError("GET root/permissions: unexpected answer")
        return members_of({"root": {"permissions": value}})

    async def add_drive_member(self, drive_id: str, principal_id: str, *, role: str,
                               group: bool = False, expiration: str | None = None) -> SpaceMember:
        """Invite a user or group (by id) as space-viewer, space-editor or manager; inviting a
        member again sets their role and expiry (RFC 3339, None: never)."""
        body: dict[str, Any] = {
            "recipients": [{"objectId": principal_id,
                            "@libre.graph.recipient.type": "group" if group else "user"}],
            "roles": [space_role_id(role)]}
        if expiration:
            body["expirationDateTime"] = expiration
        doc = await self.http.json("POST", self._root(drive_id) + "/invite", body=body)
        value = doc.get("value") if isinstance(doc, dict) else None
        found = members_of({"root": {"permissions": value or []}})
        if not found:
            raise ServerError("POST root/invite: no permission in the answer")
        return found[0]

    async def remove_drive_member(self, drive_id: str, member: SpaceMember) -> None:
        """Remove a member (the server keeps the last manager)."""
        await self.http.request("DELETE", self._root(drive_id)
                                + f"/permissions/{quote(member.permission_id, safe='')}")


# Space roles: CLI names -> unified role ids (protocol.py); v1.0 names and ids -> CLI names.
SPACE_ROLE_IDS = {name: protocol.ROLE_BY_NAME[name].id for name in protocol.SPACE_ROLES}
_MEMBER_ROLES = {**protocol.SPACE_ROLE_OF_MEMBER, **{v: k for k, v in SPACE_ROLE_IDS.items()}}


def space_role_id(role: str) -> str:
    try:
        return SPACE_ROLE_IDS[role]
    except KeyError:
        raise BadRequest(f"unknown space role {role!r}: one of "
                         f"{', '.join(SPACE_ROLE_IDS)}") from None


@dataclass(frozen=True, slots=True)
class SpaceMember:
    id: str                # the user's or group's id
    kind: str              # "user" | "group"
    display_name: str
    role: str              # space-viewer, space-editor, manager
    expiration: str = ""   # RFC 3339, "" for never

    @property
    def permission_id(self) -> str:
        """The Graph permission id of this membership (`u:<id>`, `g:<id>`)."""
        return f"{self.kind[0]}:{self.id}"


def members_of(drive: dict[str, Any]) -> list[SpaceMember]:
    """Members from a Graph drive object, v1.0 (`grantedToIdentities`) or v1beta1 (`grantedToV2`)."""
    out: list[SpaceMember] = []
    for perm in (drive.get("root") or {}).get("permissions") or []:
        if not isinstance(perm, dict):
            continue
        identities = [i for i in perm.get("grantedToIdentities") or [] if isinstance(i, dict)]
        if isinstance(perm.get("grantedToV2"), dict):
            identities.append(perm["grantedToV2"])
        roles = [str(r) for r in perm.get("roles") or []]
        role = _MEMBER_ROLES.get(roles[0], roles[0]) if roles else ""
        for identity in identities:
            for kind in ("user", "group"):
                who = identity.get(kind)
                if isinstance(who, dict):
                    out.append(SpaceMember(str(who.get("id", "")), kind,
                                           str(who.get("displayName", "")), role,
                                           str(perm.get("expirationDateTime") or "")))
    return out
