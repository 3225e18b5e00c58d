"""OCS: capabilities and the current user (`/ocs/v2.php/cloud/...?format=json`; protocol-notes.md §2)."""

from __future__ import annotations

from typing import Any

from ocis_cli.client.http import HttpClient, ocs_data


class Ocs:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def _get(self, endpoint: str) -> Any:
        doc = await self.http.json("GET", f"/ocs/v2.php/{endpoint}", params={"format": "json"})
        return ocs_data(doc, endpoint)

    async def capabilities(self) -> dict[str, Any]:
        data = await self._get("cloud/capabilities")
        return data if isinstance(data, dict) else {}

    async def user(self) -> dict[str, Any]:
        """`{id, display-name, email, ...}` of the signed-in user."""
        data = await self._get("cloud/user")
        return data if isinstance(data, dict) else {}
