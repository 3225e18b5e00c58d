"""Users, groups and roles through LibreGraph (`/graph/v1.0/users`, `/groups`, `/applications`,
`appRoleAssignments`; protocol-notes.md §6). Users and groups may be named by id or by name: the server
resolves either."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ocis_cli.client.errors import BadRequest, ServerError
from ocis_cli.client.http import HttpClient

_BASE = "/graph/v1.0"
# CLI role names -> the display names of oCIS's settings roles (the application's appRoles).
ROLE_NAMES = {"admin": "Admin", "spaceadmin": "Space Admin", "user": "User", "guest": "User Light"}


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str
    username: str
    display_name: str
    email: str
    user_type: str
    groups: tuple[str, ...] = ()        # names, when the server expanded memberOf
    role: str = ""                      # CLI role name, when appRoleAssignments were expanded
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_graph(cls, obj: dict[str, Any], roles: dict[str, str] | None = None) -> UserInfo:
        groups = tuple(str(g.get("displayName", "")) for g in obj.get("memberOf") or []
                       if isinstance(g, dict))
        assignments = [a for a in obj.get("appRoleAssignments") or [] if isinstance(a, dict)]
        role = (roles or {}).get(str(assignments[0].get("appRoleId")), "") if assignments else ""
        return cls(id=str(obj.get("id", "")), username=str(obj.get("onPremisesSamAccountName", "")),
                   display_name=str(obj.get("displayName", "")), email=str(obj.get("mail", "")),
                   user_type=str(obj.get("userType", "")), groups=groups, role=role, raw=obj)


@dataclass(frozen=True, slots=True)
class GroupInfo:
    id: str
    name: str
    description: str
    members: tuple[str, ...] = ()       # user names, when the server expanded members
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_graph(cls, obj: dict[str, Any]) -> GroupInfo:
        members = tuple(str(m.get("onPremisesSamAccountName") or m.get("displayName", ""))
                        for m in obj.get("members") or [] if isinstance(m, dict))
        return cls(id=str(obj.get("id", "")), name=str(obj.get("displayName", "")),
                   description=str(obj.get("description", "")), members=members, raw=obj)


def _segment(ref: str) -> str:
    return quote(ref, safe="")


def _values(doc: Any, what: str) -> list[dict[str, Any]]:
    value = doc.get("value") if isinstance(doc, dict) else None
    if not isinstance(value, list):
        raise ServerError(f"{what}: unexpected answer")
    return [v for v in value if isinstance(v, dict)]


def _object(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ServerError(f"{what}: unexpected answer")
    return doc


class Users:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    # --- roles ---------------------------------------------------------------------------------
    async def application(self) -> dict[str, Any]:
        apps = _values(await self.http.json("GET", f"{_BASE}/applications"), "GET applications")
        if not apps:
            raise ServerError("the server lists no Graph application")
        return apps[0]

    async def role_ids(self) -> dict[str, str]:
        """appRole id -> CLI role name (admin, spaceadmin, user, guest)."""
        by_display = {v.lower(): k for k, v in ROLE_NAMES.items()}
        return {str(r.get("id")): by_display.get(str(r.get("displayName", "")).lower(), "")
                for r in (await self.application()).get("appRoles") or [] if isinstance(r, dict)}

    # --- users ---------------------------------------------------------------------------------
    async def list_users(self, *, search: str | None = None) -> list[UserInfo]:
        params = {"$expand": "memberOf,appRoleAssignments", "$orderby": "onPremisesSamAccountName"}
        if search:
            params = {"$search": f'"{search}"'}
        doc = await self.http.json("GET", f"{_BASE}/users", params=params)
        roles = await self.role_ids() if not search else {}
        return [UserInfo.from_graph(u, roles) for u in _values(doc, "GET users")]

    async def get(self, ref: str) -> UserInfo:
        doc = await self.http.json("GET", f"{_BASE}/users/{_segment(ref)}",
                                   params={"$expand": "memberOf,appRoleAssignments"})
        return UserInfo.from_graph(_object(doc, "GET user"), await self.role_ids())

    async def create(self, username: str, password: str, *, display_name: str = "",
                     email: str = "", guest: bool = False) -> UserInfo:
        body: dict[str, Any] = {"onPremisesSamAccountName": username,
                                "displayName": display_name or username,
                                "passwordProfile": {"password": password},
                                "userType": "Guest" if guest else "Member"}
        if email:
            body["mail"] = email
        doc = await self.http.json("POST", f"{_BASE}/users", body=body)
        return UserInfo.from_graph(_object(doc, "POST users"))

    async def update(self, ref: str, *, display_name: str | None = None,
                     email: str | None = None) -> UserInfo:
        body: dict[str, Any] = {}
        if display_name is not None:
            body["displayName"] = display_name
        if email is not None:
            body["mail"] = email
        doc = await self.http.json("PATCH", f"{_BASE}/users/{_segment(ref)}", body=body)
        return UserInfo.from_graph(_object(doc, "PATCH user"))

    async def set_password(self, ref: str, password: str) -> None:
        await self.http.json("PATCH", f"{_BASE}/users/{_segment(ref)}",
                             body={"passwordProfile": {"password": password}})

    async def change_own_password(self, current: str, new: str) -> None:
        await self.http.json("POST", f"{_BASE}/me/changePassword",
                             body={"currentPassword": current, "newPassword": new})

    async def delete(self, ref: str) -> None:
        await self.http.request("DELETE", f"{_BASE}/users/{_segment(ref)}")

    async def set_role(self, ref: str, role: str) -> UserInfo:
        """Give a user one of admin, spaceadmin, user, guest (replacing the role they had)."""
        if role not in ROLE_NAMES:
            raise BadRequest(f"unknown role {role!r}: one of {', '.join(ROLE_NAMES)}")
        app = await self.application()
        wanted = ROLE_NAMES[role].lower()
        role_id = next((str(r.get("id")) for r in app.get("appRoles") or []
                        if isinstance(r, dict) and str(r.get("displayName", "")).lower() == wanted),
                       None)
        if role_id is None:
            raise ServerError(f"the server has no {ROLE_NAMES[role]!r} role")
        user = await self.get(ref)
        await self.http.json("POST", f"{_BASE}/users/{_segment(user.id)}/appRoleAssignments",
                             body={"principalId": user.id, "appRoleId": role_id,
                                   "resourceId": app.get("id")})
        return await self.get(user.id)

    # --- groups --------------------------------------------------------------------------------
    async def list_groups(self, *, search: str | None = None) -> list[GroupInfo]:
        params = {"$search": f'"{search}"'} if search else {"$expand": "members"}
        doc = await self.http.json("GET", f"{_BASE}/groups", params=params)
        return [GroupInfo.from_graph(g) for g in _values(doc, "GET groups")]

    async def group(self, ref: str) -> GroupInfo:
        doc = await self.http.json("GET", f"{_BASE}/groups/{_segment(ref)}",
                                   params={"$expand": "members"})
        return GroupInfo.from_graph(_object(doc, "GET group"))

    async def create_group(self, name: str, *, description: str = "") -> GroupInfo:
        body = {"displayName": name, "description": description}
        doc = await self.http.json("POST", f"{_BASE}/groups", body=body)
        return GroupInfo.from_graph(_object(doc, "POST groups"))

    async def delete_group(self, ref: str) -> None:
        await self.http.request("DELETE", f"{_BASE}/groups/{_segment(ref)}")

    async def add_member(self, group: str, user: str) -> None:
        target = await self.get(user)
        ref = self.http.url(f"{_BASE}/users/{_segment(target.id)}")
        await self.http.json("POST", f"{_BASE}/groups/{_segment(group)}/members/$ref",
                             body={"@odata.id": ref})

    async def remove_member(self, group: str, user: str) -> None:
        await self.http.request(
            "DELETE", f"{_BASE}/groups/{_segment(group)}/members/{_segment(user)}/$ref")
