"""Remote spaces registered by URL (`ocis remote`): the server's `/graph/v1.0/me/remotes` API
(docs/federation.md). Each entry is also a drive of `me/drives` (`driveType` `remote`) whose
WebDAV the SDK opens directly at the other server with the user's own OIDC token."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ocis_cli.client.errors import ClientError, ServerError
from ocis_cli.client.http import HttpClient
from ocis_cli.client.webdav import WebDav

_PATH = "/graph/v1.0/me/remotes"


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    id: str
    drive_id: str
    name: str
    url: str
    provider: str
    created: str

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RemoteEntry:
        return cls(*(str(obj.get(k, "")) for k in
                     ("id", "driveId", "name", "url", "provider", "createdDateTime")))


class Remotes:
    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def list(self) -> list[RemoteEntry]:
        doc = await self.http.json("GET", _PATH)
        value = doc.get("value") if isinstance(doc, dict) else None
        if not isinstance(value, list):
            raise ServerError(f"GET {_PATH}: unexpected answer")
        return [RemoteEntry.from_json(v) for v in value if isinstance(v, dict)]

    async def add(self, url: str, name: str | None = None) -> RemoteEntry:
        body: dict[str, Any] = {"url": url, **({"name": name} if name is not None else {})}
        doc = await self.http.json("POST", _PATH, body=body)
        if not isinstance(doc, dict):
            raise ServerError(f"POST {_PATH}: unexpected answer")
        return RemoteEntry.from_json(doc)

    async def remove(self, entry_id: str) -> None:
        await self.http.request("DELETE", f"{_PATH}/{quote(entry_id, safe='')}")

    async def check(self, entry: RemoteEntry, timeout: float = 5.0) -> str:
        """Whether the other server answers a depth-0 PROPFIND of the space with the user's token
        within `timeout` seconds: '' when it does, else why not."""
        self.http.remote_spaces[entry.drive_id] = entry.url.rstrip("/") + "/"
        try:
            await asyncio.wait_for(WebDav(self.http).stat(entry.drive_id, "/"), timeout)
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except ClientError as exc:
            return str(exc) or type(exc).__name__
        return ""
