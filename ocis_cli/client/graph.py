"""LibreGraph: the signed-in user and the drives (spaces) they can reach (ocis-api.md §3.6)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ocis_cli.client.errors import ServerError
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

    async def my_drives_raw(self) -> list[dict[str, Any]]:
        """`GET /graph/v1.0/me/drives`: the drive objects exactly as the server sent them."""
        doc = await self.http.json("GET", "/graph/v1.0/me/drives")
        value = doc.get("value") if isinstance(doc, dict) else None
        if not isinstance(value, list):
            raise ServerError("GET /graph/v1.0/me/drives: unexpected answer")
        return [d for d in value if isinstance(d, dict)]

    async def my_drives(self) -> list[Drive]:
        return [Drive.from_graph(d) for d in await self.my_drives_raw()]

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
