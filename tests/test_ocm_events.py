"""Two real instances: a change in Einstein's folder at zurich, shared with marie@paris.test,
reaches Marie's event stream at paris (`/ocs/.../notifications/sse`) within a second, as an event
of her remote space (its id at paris). A change outside the shared folder sends nothing; zurich
down marks the space unreachable and, back, the events flow again; once the share is removed no
more events come. Zurich's side, `GET /ocm/shares/<id>/events`, takes the share's secret only;
paris's reader of it is bounded."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ocis_server.runtime import embedded_server
from ocis_server.services.ocm.client import PeerError
from ocis_server.services.ocm.subscriptions import MAX_LINE, frames
from ocis_server.sharing import federated_sent
from ocm_peers import introduce, serve
from test_ocm_federation import (
    EINSTEIN,
    MARIE,
    OCS,
    Pair,
    call,
    configs,
    einstein_shares,
    federate,
    remote_drives,
)

SSE = "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"


@asynccontextmanager
async def stream(http: aiohttp.ClientSession, url: str, **kw: Any
                 ) -> AsyncIterator[asyncio.Queue[tuple[str, dict[str, Any]]]]:
    """The SSE messages of `url`, (event, data) as they arrive."""
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=None), **kw) as resp:
        assert resp.status == 200, resp.status

        async def read() -> None:
            kind = ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    queue.put_nowait((kind, json.loads(line[6:])))
        task = asyncio.create_task(read())
        try:
            yield queue
        finally:
            task.cancel()


async def next_event(queue: asyncio.Queue[tuple[str, dict[str, Any]]], space: str,
                     within: float = 1.0) -> tuple[str, dict[str, Any]] | None:
    """The next message about `space` within `within` seconds, None if none came."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            kind, data = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            return None
        if data.get("spaceid") == space:
            return kind, data
    return None


async def put_at_zurich(p: Pair, name: str, body: bytes = b"x") -> None:
    status, _, _ = await call(p.http, "PUT", f"{p.zurich.url}/remote.php/webdav/{name}",
                              EINSTEIN, data=body)
    assert status in (201, 204)


async def until_flowing(p: Pair, queue: asyncio.Queue[tuple[str, dict[str, Any]]],
                        space: str, tries: int = 40) -> None:
    """Write at zurich until paris's subscription passes a change on (it may still connect)."""
    for n in range(tries):
        await put_at_zurich(p, f"Physics/warm-{n}.txt")
        if await next_event(queue, space, 0.5) is not None:
            while not queue.empty():
                queue.get_nowait()
            return
    raise AssertionError("no event of the remote space reached paris")


async def test_remote_changes_reach_marie(tmp_path: Path) -> None:
    zurich_config, paris_config = configs(tmp_path)
    async with embedded_server(paris_config) as paris, aiohttp.ClientSession() as http:
        async with embedded_server(zurich_config) as zurich:
            p = Pair(zurich, paris, zurich_config, http)
            physics = (await federate(tmp_path, p))["Physics"]
            space = physics["id"]
            async with stream(http, paris.url + SSE, auth=MARIE) as events:
                await until_flowing(p, events, space)
                # upload, mkcol, move, trash in the shared folder: each within a second
                await put_at_zurich(p, "Physics/new.txt", b"hello")
                kind, data = await next_event(events, space) or ("none", {})
                assert kind == "postprocessing-finished" and data["spaceid"] == space
                assert data["itemid"] and data["etag"] and data["parentitemid"]
                assert (await call(http, "MKCOL", f"{zurich.url}/remote.php/webdav/Physics/sub",
                                   EINSTEIN))[0] == 201
                assert (await next_event(events, space) or ("none",))[0] == "folder-created"
                webdav = f"{zurich.url}/remote.php/webdav/Physics"
                assert (await call(http, "MOVE", f"{webdav}/new.txt", EINSTEIN, headers={
                    "Destination": f"{webdav}/sub/new.txt"}))[0] == 201
                assert (await next_event(events, space) or ("none",))[0] == "item-moved"
                assert (await call(http, "MOVE", f"{webdav}/sub/new.txt", EINSTEIN, headers={
                    "Destination": f"{webdav}/sub/renamed.txt"}))[0] == 201
                assert (await next_event(events, space) or ("none",))[0] == "item-renamed"
                assert (await call(http, "DELETE", f"{webdav}/sub/renamed.txt",
                                   EINSTEIN))[0] == 204
                kind, data = await next_event(events, space) or ("none", {})
                assert kind == "item-trashed" and data["etag"] == ""
                # outside the shared folder: nothing, for no space of hers
                await put_at_zurich(p, "Private/secret.txt")
                try:
                    kind, data = await asyncio.wait_for(events.get(), 1.5)
                    raise AssertionError(f"unexpected {kind} {data}")
                except TimeoutError:
                    pass
            # another paris user's stream gets nothing of Marie's remote space
            async with stream(http, paris.url + SSE, auth=EINSTEIN) as other:
                await put_at_zurich(p, "Physics/for-marie.txt")
                assert await next_event(other, space, 1.5) is None

        # zurich down: the space is marked unreachable (told by the stream, not a 5 s cache)
        await asyncio.sleep(0.5)
        drives = await remote_drives(p)
        assert drives["Physics"]["@ocis.federation"]["reachable"] is False
        async with stream(http, paris.url + SSE, auth=MARIE) as events:
            async with embedded_server(zurich_config) as zurich:
                p = Pair(zurich, paris, zurich_config, http)
                await until_flowing(p, events, space)       # back: events flow again
                await put_at_zurich(p, "Physics/again.txt")
                assert (await next_event(events, space) or ("none",))[0] \
                    == "postprocessing-finished"
                # Marie removes the share at paris: no more events
                share_id = physics["root"]["remoteItem"]["permissions"][0]["id"]
                assert (await call(http, "DELETE", f"{paris.url}{OCS}/remote_shares/{share_id}"
                                   "?format=json", MARIE))[0] == 200
                await asyncio.sleep(0.3)
                await put_at_zurich(p, "Physics/after.txt")
                assert await next_event(events, space, 1.5) is None


async def test_zurich_stream_takes_the_secret_and_ends_with_the_share(tmp_path: Path) -> None:
    zurich_config, paris_config = configs(tmp_path)
    async with (embedded_server(zurich_config) as zurich, embedded_server(paris_config) as paris,
                aiohttp.ClientSession() as http):
        introduce(tmp_path, zurich, paris)
        await einstein_shares(Pair(zurich, paris, zurich_config, http))
        ctx = zurich.ctx
        einstein = await ctx.users.get_by_name("einstein")
        shares = await ctx.storage.list_ocm_shares()
        node = await ctx.storage.lookup(einstein.id, ("Physics",))
        [share] = [s for s in shares if s.node_id == node.id]
        url = f"{zurich.url}/ocm/shares/{share.id}/events"
        async with http.get(url) as resp:
            assert resp.status == 401
        async with http.get(url, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401 and "secret" in (await resp.json())["message"]
        async with http.get(f"{zurich.url}/ocm/shares/nope/events",
                            headers={"Authorization": f"Bearer {share.secret}"}) as resp:
            assert resp.status == 404
        auth = {"Authorization": f"Bearer {share.secret}"}
        async with http.get(url, headers=auth, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert await resp.content.readline() == b": connected\n"
            assert await resp.content.readline() == b"\n"
            pair = Pair(zurich, paris, zurich_config, http)
            await put_at_zurich(pair, "Private/x.txt")      # outside: not sent
            await put_at_zurich(pair, "Physics/sub.txt")
            lines = [await resp.content.readline() for _ in range(4)]
            assert lines[0].startswith(b"id: ") and lines[1] == b"event: FileUploaded\n"
            body = json.loads(lines[2].removeprefix(b"data: "))
            assert body["path"] == "/sub.txt" and body["type"] == "FileUploaded"
            assert "Physics" not in json.dumps(body)        # paths are relative to the share
            await federated_sent.delete(ctx, einstein, share, None)
            rest = await asyncio.wait_for(resp.content.read(), 5)   # the stream ends
            assert b"FileUploaded" not in rest


async def test_stream_reader_is_bounded() -> None:
    """A hostile sharer sending one endless line (or an endless event) is cut off after 64 KiB:
    the reader never buffers what it sends."""
    sent: dict[str, int] = {}

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        sent[request.path] = 0
        prefix = b"event: FileUploaded\n" if request.path == "/event" else b""
        await resp.write(prefix)
        chunk = b"data: xxxxxxxx\n" * 4096 if request.path == "/event" else b"x" * 65536
        try:
            for _ in range(1600):                         # up to 100 MiB
                await resp.write(chunk)
                sent[request.path] += len(chunk)
        except ConnectionError:
            pass
        return resp

    app = web.Application()
    app.router.add_get("/{kind}", endless)
    async with serve(app) as base, aiohttp.ClientSession() as http:
        for kind in ("line", "event"):
            async with http.get(f"{base}/{kind}") as resp:
                try:
                    async for _ in frames(resp.content):
                        raise AssertionError("no frame may come out")
                    raise AssertionError("the reader took it all")
                except PeerError as exc:
                    assert "too long" in exc.message or "too large" in exc.message
            await asyncio.sleep(0.2)
            assert sent[f"/{kind}"] < 64 * MAX_LINE           # cut off, not read to the end


async def test_paris_restarted_follows_its_accepted_shares(tmp_path: Path) -> None:
    """The subscriptions of the accepted shares start with the server, not only on accept."""
    zurich_config, paris_config = configs(tmp_path)
    async with embedded_server(zurich_config) as zurich, aiohttp.ClientSession() as http:
        async with embedded_server(paris_config) as paris:
            p = Pair(zurich, paris, zurich_config, http)
            space = (await federate(tmp_path, p))["Physics"]["id"]
        async with embedded_server(paris_config) as paris:
            p = Pair(zurich, paris, zurich_config, http)
            async with stream(http, paris.url + SSE, auth=MARIE) as events:
                await until_flowing(p, events, space)
