"""Sharing over the OCS share API (`/ocs/v2.php/apps/files_sharing/api/v1`; protocol-notes.md §3):
user and group shares, public links (share type 3), received shares (accept, decline, hide) and
the sharee search. Roles are sent by name; the server checks which apply to the item. Project
space members are Graph's (`graph.py`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ocis_cli.client import protocol
from ocis_cli.client.errors import NotFound, ServerError
from ocis_cli.client.http import HttpClient, ocs_data
from ocis_cli.client.protocol import (
    FEDERATED,
    GROUP,
    LINK,
    SPACE_GROUP,
    SPACE_USER,
    STATES,
    USER,
)
from ocis_cli.client.units import iso_text

_API = "/ocs/v2.php/apps/files_sharing/api/v1"


def link_permissions(link_type: str, *, is_folder: bool) -> int:
    """The OCS bitmask of a link type; `upload` and `file-drop` need a folder."""
    return protocol.link_bits(link_type, is_folder=is_folder)


def role_name(bits: int, item_type: str, share_type: int) -> str:
    """The unified role (CLI name) a share's bits stand for; `custom:<bits>` when none does."""
    if share_type in (SPACE_USER, SPACE_GROUP):
        kind = protocol.ROOT
    else:
        kind = protocol.FILE if item_type == "file" else protocol.FOLDER
    return protocol.role_for_bits(bits, kind) or f"custom:{bits}"


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """One OCS share record; `raw` is the record exactly as the server sent it."""

    id: str
    share_type: int
    path: str
    item_type: str
    item_id: str
    permissions: int
    role: str
    owner: str
    recipient: str
    recipient_name: str
    state: str
    hidden: bool
    expiration: str
    token: str
    url: str
    name: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return {USER: "user", GROUP: "group", LINK: "link", FEDERATED: "federated",
                SPACE_USER: "space-user", SPACE_GROUP: "space-group"}.get(self.share_type,
                                                                          str(self.share_type))

    @property
    def has_password(self) -> bool:
        """A link with a password (the server redacts it into `share_with`)."""
        return self.share_type == LINK and bool(self.recipient)

    @property
    def link_type(self) -> str:
        return protocol.link_type_for_bits(self.permissions) or f"custom:{self.permissions}"

    @classmethod
    def from_ocs(cls, obj: dict[str, Any]) -> ShareInfo:
        share_type = _int(obj.get("share_type"))
        item_type = str(obj.get("item_type", ""))
        bits = _int(obj.get("permissions"))
        return cls(
            id=str(obj.get("id", "")), share_type=share_type, path=str(obj.get("path", "")),
            item_type=item_type, item_id=str(obj.get("item_source") or obj.get("file_source") or ""),
            permissions=bits, role=role_name(bits, item_type, share_type),
            owner=str(obj.get("uid_owner", "")), recipient=str(obj.get("share_with") or ""),
            recipient_name=str(obj.get("share_with_displayname") or ""),
            state=STATES.get(_int(obj.get("state")), str(obj.get("state", ""))),
            hidden=bool(obj.get("hidden")), expiration=str(obj.get("expiration") or ""),
            token=str(obj.get("token") or ""), url=str(obj.get("url") or ""),
            name=str(obj.get("name") or ""), raw=obj)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of `ocis share ls -o json` and `ocis link ls -o json`."""
        out: dict[str, Any] = {
            "id": self.id, "type": self.kind, "path": self.path, "item_type": self.item_type,
            "item_id": self.item_id, "role": self.role, "permissions": self.permissions,
            "owner": self.owner, "recipient": self.recipient,
            "recipient_display_name": self.recipient_name, "state": self.state,
            "hidden": self.hidden, "expiration": iso_text(self.expiration)}
        if self.share_type == LINK:
            del out["recipient"], out["recipient_display_name"]
            out.update({"link_type": self.link_type, "url": self.url, "token": self.token,
                        "name": self.name, "password_protected": self.has_password})
        return out


@dataclass(frozen=True, slots=True)
class Sharee:
    """A user or group the sharee search found."""

    kind: str           # "user" | "group"
    name: str           # what `shareWith` takes (user name, group name)
    label: str          # display name
    info: str           # e-mail for users
    exact: bool


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


class Shares:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def _call(self, method: str, endpoint: str, *, params: dict[str, str] | None = None,
                    form: dict[str, str] | None = None) -> Any:
        """One OCS request (form-encoded body, JSON answer); an OCS error status raises."""
        query = {"format": "json", **(params or {})}
        headers = {"Accept": "application/json", "OCS-APIRequest": "true"}
        _, _, raw = await self.http.request(method, f"{_API}/{endpoint}", headers=headers,
                                            data=form, params=query)
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise ServerError(f"OCS {endpoint}: the server sent invalid JSON") from exc
        return ocs_data(doc, endpoint)

    async def _records(self, method: str, endpoint: str, **kw: Any) -> list[ShareInfo]:
        data = await self._call(method, endpoint, **kw)
        items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        return [ShareInfo.from_ocs(d) for d in items if isinstance(d, dict)]

    async def _one(self, method: str, endpoint: str, **kw: Any) -> ShareInfo:
        found = await self._records(method, endpoint, **kw)
        if not found:
            raise ServerError(f"OCS {endpoint}: no share in the answer")
        return found[0]

    # --- own shares ----------------------------------------------------------------------------
    async def create(self, item_id: str, recipient: str, *, group: bool = False, role: str,
                     expire: str | None = None) -> ShareInfo:
        """Share the resource `item_id` (`storage$space!node`) with a user or group name."""
        form = {"shareType": str(GROUP if group else USER), "space": item_id,
                "shareWith": recipient, "role": role}
        if expire:
            form["expireDate"] = expire
        return await self._one("POST", "shares", form=form)

    async def create_federated(self, item_id: str, address: str, *, role: str,
                               expire: str | None = None) -> ShareInfo:
        """Share the resource with a user of another OCM server, `user@domain` (share type 6;
        an address at the server's own domain is its local user)."""
        form = {"shareType": str(FEDERATED), "space": item_id, "shareWith": address,
                "role": role}
        if expire:
            form["expireDate"] = expire
        return await self._one("POST", "shares", form=form)

    async def list_mine(self, *, item_id: str | None = None,
                        types: tuple[int, ...] = ()) -> list[ShareInfo]:
        """Shares and links I created or manage (on one item with `item_id`)."""
        params: dict[str, str] = {}
        if item_id:
            params["space"] = item_id
        if types:
            params["share_types"] = ",".join(str(t) for t in types)
        return await self._records("GET", "shares", params=params)

    async def get(self, share_id: str) -> ShareInfo:
        return await self._one("GET", f"shares/{quote(share_id, safe='')}")

    async def update(self, share_id: str, *, role: str | None = None, expire: str | None = None,
                     password: str | None = None, name: str | None = None,
                     permissions: int | None = None) -> ShareInfo:
        """Change role/permissions or expiry (`expire=""` removes it); links: password, name."""
        form: dict[str, str] = {}
        if role:
            form["role"] = role
        if permissions is not None:
            form["permissions"] = str(permissions)
        if expire is not None:
            form["expireDate"] = expire
        if password is not None:
            form["password"] = password
        if name is not None:
            form["name"] = name
        return await self._one("PUT", f"shares/{quote(share_id, safe='')}", form=form)

    async def delete(self, share_id: str) -> None:
        await self._call("DELETE", f"shares/{quote(share_id, safe='')}")

    # --- public links --------------------------------------------------------------------------
    async def create_link(self, item_id: str, *, permissions: int, password: str | None = None,
                          expire: str | None = None, name: str | None = None) -> ShareInfo:
        form = {"shareType": str(LINK), "space": item_id, "permissions": str(permissions)}
        if password:
            form["password"] = password
        if expire:
            form["expireDate"] = expire
        if name:
            form["name"] = name
        return await self._one("POST", "shares", form=form)

    async def list_links(self, *, item_id: str | None = None) -> list[ShareInfo]:
        return [s for s in await self.list_mine(item_id=item_id, types=(LINK,))
                if s.share_type == LINK]

    # --- received shares -----------------------------------------------------------------------
    async def received(self, *, state: str = "all", show_hidden: bool = True) -> list[ShareInfo]:
        """Shares with me: `state` is accepted, pending, declined or all."""
        numbers = {v: str(k) for k, v in STATES.items()}
        params = {"shared_with_me": "true", "state": numbers.get(state, "all"),
                  "show_hidden": "true" if show_hidden else "false"}
        return await self._records("GET", "shares", params=params)

    async def accept(self, share_id: str) -> ShareInfo:
        return await self._one("POST", f"shares/pending/{quote(share_id, safe='')}")

    async def decline(self, share_id: str) -> ShareInfo:
        return await self._one("DELETE", f"shares/pending/{quote(share_id, safe='')}")

    async def set_hidden(self, share_id: str, hidden: bool = True) -> ShareInfo:
        return await self._one("PUT", f"shares/pending/{quote(share_id, safe='')}",
                               form={"hidden": "true" if hidden else "false"})

    # --- sharees -------------------------------------------------------------------------------
    async def sharees(self, search: str, *, limit: int = 50) -> list[Sharee]:
        """Users and groups matching `search`; exact matches (login, e-mail, group name) first."""
        data = await self._call("GET", "sharees", params={
            "search": search, "itemType": "file", "perPage": str(limit)})
        if not isinstance(data, dict):
            return []
        out: list[Sharee] = []
        for bucket, exact in ((data.get("exact") or {}, True), (data, False)):
            for key, kind in (("users", "user"), ("groups", "group")):
                for item in bucket.get(key) or []:
                    value = item.get("value") if isinstance(item, dict) else None
                    if isinstance(value, dict):
                        out.append(Sharee(kind, str(value.get("shareWith", "")),
                                          str(item.get("label", "")),
                                          str(value.get("shareWithAdditionalInfo") or ""), exact))
        return out

    async def find_recipient(self, text: str) -> tuple[str, bool]:
        """(name, is_group) for a user name, an e-mail address or `group:NAME`."""
        if text.startswith("group:"):
            return text.removeprefix("group:"), True
        if "@" not in text:
            return text, False
        users = [s for s in await self.sharees(text) if s.kind == "user" and s.exact
                 and text.lower() in (s.info.lower(), s.name.lower())]
        if not users:
            raise NotFound(f"no user with the e-mail address {text}", status=404)
        return users[0].name, False
