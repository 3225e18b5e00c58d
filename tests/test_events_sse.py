"""Change notifications over HTTP against a real server: two users, one subscribed to the SSE
stream (`/ocs/v2.php/apps/notifications/api/v1/notifications/sse`), the other changing files and
shares; the subscriber gets exactly the events it may see, in order, none after its access ends."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import RealServer, launch_real_server
from tests.sse_helpers import SSE_PATH, SseReader

EINSTEIN = ("einstein", "relativity")
MARIE = ("marie", "radioactivity")
EINSTEIN_ID = "4c510ada-c86b-4815-8820-42cdf82c3d51"
MARIE_ID = "f7fbf8c8-139b-4376-b307-cf0a8c2d0d9c"
SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    env = {"SSE_MAX_STREAMS_PER_USER": "3", "SSE_BUFFER_SIZE": "16",
           "SSE_KEEPALIVE_INTERVAL": "0.5"}
    with launch_real_server(tmp_path_factory.mktemp("sse"), env) as srv:
        yield srv


class Client:
    """einstein's changes, over WebDAV and OCS."""

    def __init__(self, session: aiohttp.ClientSession, url: str, user: tuple[str, str]) -> None:
        self.session, self.url = session, url
        self.user, self.auth = user[0], aiohttp.BasicAuth(*user)

    def dav(self, path: str) -> str:
        return f"{self.url}/remote.php/dav/files/{self.user}/{path}"

    async def call(self, method: str, url: str, expect: int, **kw: Any) -> aiohttp.ClientResponse:
        async with self.session.request(method, url, auth=self.auth, **kw) as response:
            await response.read()
            assert response.status == expect, (method, url, response.status)
            return response

    async def mkcol(self, path: str) -> None:
        await self.call("MKCOL", self.dav(path), 201)

    async def put(self, path: str, body: bytes = b"data") -> str:
        response = await self.call("PUT", self.dav(path), 201, data=body)
        return response.headers["ETag"]

    async def move(self, src: str, dst: str) -> None:
        await self.call("MOVE", self.dav(src), 201, headers={"Destination": self.dav(dst)})

    async def delete(self, path: str) -> None:
        await self.call("DELETE", self.dav(path), 204)

    async def share(self, path: str, with_user: str) -> str:
        async with self.session.post(self.url + SHARES, auth=self.auth, params={"format": "json"},
                                     data={"path": path, "shareType": "0",
                                           "shareWith": with_user, "permissions": "1"}) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["ocs"]["data"]["id"])

    async def unshare(self, share_id: str) -> None:
        await self.call("DELETE", f"{self.url}{SHARES}/{share_id}", 200,
                        params={"format": "json"})


async def test_subscriber_sees_exactly_what_it_may_read(server: RealServer) -> None:
    async with aiohttp.ClientSession() as session, \
            SseReader(server.url, *MARIE) as marie, SseReader(server.url, *EINSTEIN) as own:
        assert (marie.status, marie.content_type) == (200, "text/event-stream")
        einstein = Client(session, server.url, EINSTEIN)
        await einstein.mkcol("private")
        await einstein.mkcol("shared")
        share_id = await einstein.share("/shared", "marie")
        etag = await einstein.put("shared/a.txt")
        await einstein.put("private/secret.txt")
        await einstein.move("shared/a.txt", "shared/b.txt")
        await einstein.mkcol("shared/sub")
        await einstein.move("shared/b.txt", "shared/sub/b.txt")
        await einstein.delete("shared/sub/b.txt")
        await einstein.unshare(share_id)
        await einstein.put("shared/after.txt")          # marie may no longer read it
        await einstein.mkcol("shared/later")

        got = [await marie.next() for _ in range(7)]
        assert [m.event for m in got] == [
            "share-created", "postprocessing-finished", "item-renamed", "folder-created",
            "item-moved", "item-trashed", "share-removed"]
        assert [m.id for m in got] == sorted(m.id for m in got)
        created, uploaded = got[0].data, got[1].data
        assert created["affecteduserids"] == [MARIE_ID]
        assert uploaded["initiatorid"] == EINSTEIN_ID
        assert uploaded["etag"] == etag
        assert uploaded["spaceid"].endswith("$" + EINSTEIN_ID)
        assert uploaded["itemid"].startswith(uploaded["spaceid"] + "!")
        assert uploaded["parentitemid"].startswith(uploaded["spaceid"] + "!")
        assert got[2].data["itemid"] == uploaded["itemid"]        # renamed: same item
        assert got[5].data["itemid"] == uploaded["itemid"]        # and trashed
        assert await marie.quiet(1.5) == []                       # nothing after access ended
        notes = [(await marie.note()).data["subject"] for _ in range(2)]   # userlog's, live
        assert notes == ["Resource shared", "Resource unshared"] and marie.notes.empty()

        # The owner sees every change of his space, the private folder included.
        seen = []
        while len(seen) < 12:
            seen.append((await own.next()).event)
        assert seen.count("folder-created") == 4 and seen.count("postprocessing-finished") == 3
        assert marie.comments >= 2                                # keep-alive comments arrive


async def test_reconnect_with_last_event_id_replays_what_was_missed(server: RealServer) -> None:
    async with aiohttp.ClientSession() as session:
        einstein = Client(session, server.url, EINSTEIN)
        await einstein.mkcol("resume")
        await einstein.share("/resume", "marie")
        async with SseReader(server.url, *MARIE) as first:
            await einstein.put("resume/1.txt")
            last = await first.next()
            if last.event == "share-created":     # the share may be processed after we subscribed
                last = await first.next()
            assert last.event == "postprocessing-finished"
        tags = [await einstein.put(f"resume/{n}.txt") for n in (2, 3)]
        await asyncio.sleep(0.5)
        async with SseReader(server.url, *MARIE, last_event_id=last.id) as again:
            replayed = [await again.next(), await again.next()]
            assert [m.data["etag"] for m in replayed] == tags, (replayed, tags, last)
            assert all(m.id > last.id for m in replayed)
            assert await again.quiet(0.5) == []
        async with SseReader(server.url, *MARIE, last_event_id=replayed[-1].id) as current:
            assert await current.quiet(0.5) == []                # nothing twice


async def test_unauthenticated_and_too_many_streams(server: RealServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + SSE_PATH) as response:
            assert response.status == 401
        async with session.get(server.url + "/ocs/v2.php/cloud/capabilities",
                               params={"format": "json"}) as response:
            caps = (await response.json())["ocs"]["data"]["capabilities"]
            assert caps["core"]["support-sse"] is True
    readers = [SseReader(server.url, "richard", "superfluidity") for _ in range(4)]
    for reader in readers[:3]:
        await reader.__aenter__()
    try:
        async with readers[3] as extra:
            assert extra.status == 429
    finally:
        for reader in readers[:3]:
            await reader.__aexit__(None, None, None)
    await asyncio.sleep(0.2)
    async with SseReader(server.url, "richard", "superfluidity") as after:   # freed again
        assert after.status == 200


async def test_a_reader_that_never_reads_is_cut_off(server: RealServer) -> None:
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    token = base64.b64encode(b"moss:vista").decode()
    raw.sendall(f"GET {SSE_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\r\n"
                .encode())
    total = 1000                      # ~400 bytes each: far more than the buffers hold
    try:
        async with aiohttp.ClientSession() as session:
            moss = Client(session, server.url, ("moss", "vista"))
            await moss.mkcol("flood")
            for batch in range(total // 50):          # the stream is never read meanwhile
                await asyncio.gather(*(moss.mkcol(f"flood/{batch}-{n}") for n in range(50)))
        await asyncio.sleep(1.0)
        received = await asyncio.to_thread(_read_to_end, raw, 10.0)
    finally:
        raw.close()
    assert received is not None, "the server kept a stream nobody reads"
    assert 0 < received.count(b"event: folder-created") < total


def _read_to_end(raw: socket.socket, timeout: float) -> bytes | None:
    """Everything until the server closes the connection; None if it is still open after
    `timeout` seconds of silence."""
    raw.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while chunk := raw.recv(65536):
            data += chunk
            if time.monotonic() > deadline:    # still streaming (keep-alive comments)
                return None
    except TimeoutError:
        return None
    return data
