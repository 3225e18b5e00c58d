"""Helpers of the sharing NG tests: an HTTP client speaking Graph and WebDAV as the demo users."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import kit

from ocis_server.domain import roles
from ocis_server.domain.ids import SHARE_JAIL_ID

JAIL = f"{SHARE_JAIL_ID}${SHARE_JAIL_ID}"
B = "/graph/v1beta1"


class Client:
    """Graph and WebDAV as the demo users, over the kit's client; the tests check the statuses."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.ids: dict[str, str] = {}

    def as_user(self, user: str) -> kit.Http:
        return kit.Http(self.session, user, base=self.url)

    async def call(self, method: str, user: str, path: str, body: Any = None,
                   **query: str) -> tuple[int, Any]:
        resp = await self.as_user(user).send(method, path, json=body, params=query)
        return resp.status, (json.loads(resp.data) if resp.data else None)

    async def dav(self, method: str, user: str, path: str, body: bytes = b"",
                  **headers: str) -> aiohttp.ClientResponse:
        resp: aiohttp.ClientResponse = await self.as_user(user).send(
            method, path, body=body or None, headers=headers)
        return resp

    async def item_id(self, user: str, path: str) -> str:
        resp = await self.dav("PROPFIND", user, f"/remote.php/webdav{path}", Depth="0")
        assert resp.status == 207
        return resp.headers.get("OC-FileId") or await self._fileid(user, path)

    async def _fileid(self, user: str, path: str) -> str:
        body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                b"<d:prop><oc:fileid/></d:prop></d:propfind>")
        resp = await self.dav("PROPFIND", user, f"/remote.php/webdav{path}", body, Depth="0")
        text = resp.data.decode()  # type: ignore[attr-defined]
        return text.split("<oc:fileid>")[1].split("</oc:fileid>")[0]


def invite_body(object_id: str, role: roles.Role, rtype: str = "user", **extra: Any) -> dict[str, Any]:
    return {"recipients": [{"objectId": object_id, "@libre.graph.recipient.type": rtype}],
            "roles": [role.id], **extra}


def split(item_id: str) -> tuple[str, str]:
    """`storage$space!node` -> (drive id, item id)."""
    return item_id.split("!")[0], item_id




OCS_SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


async def ocs_shares(client: Client, user: str, method: str, route: str = "",
                     query: dict[str, str] | None = None, **form: str) -> tuple[int, Any]:
    """The OCS share API (v2, JSON) as `user`, with a form body."""
    async with client.session.request(method, client.url + OCS_SHARES + route, data=form or None,
                                      params={"format": "json", **(query or {})},
                                      headers=kit.headers(user)) as resp:
        return resp.status, await resp.json(content_type=None)


async def with_project_space(client: Client, users: tuple[str, ...]) -> Client:
    """Signs `users` in (their ids in `client.ids`); katherine (a space admin) makes the project
    space "Mars" and is its Manager (`client.ids["drive"]`)."""
    for user in (*users, "katherine"):
        status, me = await client.call("GET", user, "/graph/v1.0/me")
        assert status == 200
        client.ids[user] = me["id"]
    status, drive = await client.call("POST", "katherine", "/graph/v1.0/drives", {"name": "Mars"})
    assert status == 201
    client.ids["drive"] = drive["id"]
    return client
