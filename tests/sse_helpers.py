"""A Server-Sent Events reader for tests: opens the notifications stream of a user and parses
its messages (id, event, data) into a queue, as a browser's EventSource would."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

SSE_PATH = "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"


@dataclass(frozen=True)
class Message:
    id: int
    event: str
    data: dict[str, Any]


class SseReader:
    def __init__(self, url: str, user: str, password: str, last_event_id: int | None = None) -> None:
        self.url, self.auth = url, aiohttp.BasicAuth(user, password)
        self.last_event_id = last_event_id
        self.messages: asyncio.Queue[Message] = asyncio.Queue()   # changes, in order
        # in-app notifications (userlog-notification: they take a second trip over the bus, so
        # their place among the changes varies), kept apart
        self.notes: asyncio.Queue[Message] = asyncio.Queue()
        self.comments = 0
        self.status = 0
        self.content_type = ""
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> SseReader:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None and self._session is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await self._task
        await self._session.close()

    async def _read(self) -> None:
        assert self._session is not None
        headers = {} if self.last_event_id is None else {"Last-Event-ID": str(self.last_event_id)}
        try:
            async with self._session.get(self.url + SSE_PATH, auth=self.auth,
                                         headers=headers) as response:
                self.status, self.content_type = response.status, response.content_type
                if response.status != 200:
                    return
                fields: dict[str, str] = {}
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith(":"):
                        self.comments += 1
                        self._ready.set()       # the server's first comment: subscribed
                    elif line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    elif fields:
                        message = Message(int(fields.get("id", "0")),
                                          fields.get("event", "message"),
                                          json.loads(fields.get("data", "null")))
                        notice = message.event == "userlog-notification"
                        await (self.notes if notice else self.messages).put(message)
                        fields = {}
        finally:
            self._ready.set()

    async def next(self, timeout: float = 5.0) -> Message:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def note(self, timeout: float = 5.0) -> Message:
        return await asyncio.wait_for(self.notes.get(), timeout)

    async def quiet(self, seconds: float = 1.0) -> list[Message]:
        """The messages that arrive within `seconds` (expected: none)."""
        await asyncio.sleep(seconds)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out
