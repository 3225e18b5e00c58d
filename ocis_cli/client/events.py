"""Change notifications: the server's Server-Sent Events stream
(`/ocs/v2.php/apps/notifications/api/v1/notifications/sse`, oCIS clientlog bodies) as typed
events, reconnecting with Last-Event-ID when the connection drops; and where an item lies for the
caller (`/remote.php/dav/meta/<id>`, `oc:meta-path-for-user`). This module alone knows those URLs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from defusedxml import ElementTree  # type: ignore[import-untyped]

from ocis_cli.client.errors import AuthError, ClientError, NotFound
from ocis_cli.client.http import HttpClient

SSE_PATH = "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"
_META_BODY = (b'<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" '
              b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:meta-path-for-user/></d:prop>'
              b"</d:propfind>")


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    id: int                 # the stream's event id (what Last-Event-ID resumes after)
    type: str               # postprocessing-finished, item-renamed, share-created, ...
    item_id: str
    parent_id: str
    space_id: str
    initiator_id: str
    etag: str
    affected: tuple[str, ...] = ()
    object_type: str = ""   # userlog-notification: what it is about ("share", "storagespace")
    object_id: str = ""     # ... and its id (a share: the id that accepts it)

    @classmethod
    def parse(cls, event_id: int, kind: str, data: dict[str, Any]) -> ChangeEvent:
        return cls(event_id, kind, str(data.get("itemid") or ""),
                   str(data.get("parentitemid") or ""), str(data.get("spaceid") or ""),
                   str(data.get("initiatorid") or ""), str(data.get("etag") or ""),
                   tuple(str(u) for u in data.get("affecteduserids") or ()),
                   str(data.get("object_type") or ""), str(data.get("object_id") or ""))


class Events:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def stream(self, *, retry: float = 1.0) -> AsyncIterator[ChangeEvent]:
        """Events as they arrive, forever; a dropped connection is reopened (after `retry`
        seconds, doubling up to 30) with Last-Event-ID, so nothing in the server's replay window
        is missed. Authentication failures are raised, not retried."""
        last: int | None = None
        delay = retry
        while True:
            try:
                async for event in self._once(last):
                    last, delay = event.id, retry
                    yield event
            except ClientError as exc:      # network errors, 429, 5xx: try again
                if isinstance(exc, AuthError) or exc.status in (401, 403, 404):
                    raise
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)

    async def _once(self, last: int | None) -> AsyncIterator[ChangeEvent]:
        headers = {"Accept": "text/event-stream"}
        if last is not None:
            headers["Last-Event-ID"] = str(last)
        async with self._http.stream("GET", SSE_PATH, headers=headers) as response:
            fields: dict[str, str] = {}
            async for raw in response.content:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith(":"):
                    continue                         # a comment: connected, keep-alive
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                    continue
                if "data" in fields and fields.get("id", "").isdigit():
                    try:
                        data = json.loads(fields["data"])
                    except ValueError:
                        data = None
                    if isinstance(data, dict):
                        yield ChangeEvent.parse(int(fields["id"]), fields.get("event", ""), data)
                fields = {}

    async def path_of(self, item_id: str) -> str | None:
        """Where the item lies for the caller ("/Shares/x/a.txt"), None if it cannot see it."""
        try:
            _, _, body = await self._http.request(
                "PROPFIND", f"/remote.php/dav/meta/{quote(item_id, safe='')}",
                headers={"Depth": "0", "Content-Type": "application/xml"}, data=_META_BODY)
        except NotFound:
            return None
        root = ElementTree.fromstring(body)
        path = root.findtext(".//{http://owncloud.org/ns}meta-path-for-user")
        return str(path) if path else None
