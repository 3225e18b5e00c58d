"""The proxy's forwarding to another node (runtime/forward.py), against a real aiohttp server
standing in for that node: bodies stream both ways, hop-by-hop headers stay behind, X-Forwarded-*
are set, HEAD keeps its Content-Length, a dead address is passed over for the next, an answer
broken off midway cuts the client's connection (never a short body that looks complete), a
request forwarded once is not forwarded again, and no instance at all is a 503 with Retry-After
in the service's own error body."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ocis_server.registry import Entry, MemoryRegistry
from ocis_server.registry.lookup import Lookup
from ocis_server.runtime.forward import FORWARDED, Forwarder
from ocis_server.runtime.proxy import Route
from ocis_server.services import by_name
from tests.conftest import free_port

GRAPH = by_name()["graph"]


async def _echo(request: web.Request) -> web.Response:
    digest, size = hashlib.sha256(), 0
    async for chunk in request.content.iter_chunked(1 << 16):
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"sha": digest.hexdigest(), "size": size,
                              "headers": {k.lower(): v for k, v in request.headers.items()},
                              "path": request.path_qs})


async def _stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Connection": "X-Hop", "X-Hop": "1", "X-End": "2"})
    await response.prepare(request)
    for n in range(3):
        await response.write(f"part {n}\n".encode())
    await response.write_eof()
    return response


async def _head(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * 1000)


async def _broken(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "100000"})
    await response.prepare(request)
    await response.write(b"y" * 1000)
    assert request.transport is not None
    request.transport.abort()           # the other node dies mid-answer
    return response


@pytest.fixture
async def upstream() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", "/graph/echo", _echo)
    app.router.add_get("/graph/stream", _stream)
    app.router.add_get("/graph/file", _head)
    app.router.add_get("/graph/broken", _broken)
    app.router.add_get("/graph/short", lambda request: _short(request))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def front(entries: list[Entry]) -> tuple[TestServer, Forwarder]:
    registry = MemoryRegistry()
    await registry.start(lambda: list(entries))
    forwarder = Forwarder(Lookup(registry, node="front", ttl=0.0), "front",
                          lambda route, request, error: route.render(error, request))
    route = Route("/graph", GRAPH, GRAPH.resolve("errors"), remote=True)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await forwarder.forward(route, request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, forwarder


def url_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_bodies_stream_both_ways_and_headers(upstream: TestServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"          # nothing listens there
    server, forwarder = await front([Entry("graph", "other", url_of(upstream), "ready"),
                                     Entry("graph", "gone", dead, "ready")])
    base = url_of(server)
    blob = os.urandom(1 << 20) * 5

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(blob), 1 << 16):
            yield blob[start:start + (1 << 16)]
    try:
        async with aiohttp.ClientSession() as web_client:
            for _ in range(2):          # round robin: one of the two tries meets the dead one
                async with web_client.put(f"{base}/graph/echo?a=1&b=%20", data=chunks(),
                                          headers={"Connection": "keep-alive, X-Secret",
                                                   "X-Secret": "s", "Depth": "1"}) as answer:
                    assert answer.status == 200
                    seen = await answer.json()
                assert seen["sha"] == hashlib.sha256(blob).hexdigest()
                assert seen["size"] == len(blob) and seen["path"] == "/graph/echo?a=1&b=%20"
                headers = seen["headers"]
                assert "x-secret" not in headers and headers["depth"] == "1"
                assert headers[FORWARDED.lower()] == "front"
                assert headers["x-forwarded-for"] == "127.0.0.1"
                assert headers["x-forwarded-proto"] == "http"
                assert headers["host"] == server.make_url("").authority
            assert forwarder.lookup._dead.keys() == {dead}
            async with web_client.put(f"{base}/graph/echo", data=blob[:300000]) as answer:
                seen = await answer.json()            # a body with Content-Length
            assert seen["size"] == 300000 and seen["headers"]["content-length"] == "300000"
            assert seen["sha"] == hashlib.sha256(blob[:300000]).hexdigest()

            async with web_client.get(f"{base}/graph/stream") as answer:
                assert await answer.read() == b"part 0\npart 1\npart 2\n"
                assert "X-Hop" not in answer.headers and answer.headers["X-End"] == "2"
            async with web_client.head(f"{base}/graph/file") as answer:
                assert answer.status == 200 and answer.headers["Content-Length"] == "1000"
            async with web_client.get(f"{base}/graph/broken") as answer:
                assert answer.status == 200
                with pytest.raises(aiohttp.ClientPayloadError):
                    await answer.read()
    finally:
        await forwarder.close()
        await server.close()


async def test_no_instance_503_and_no_second_forwarding(upstream: TestServer) -> None:
    server, forwarder = await front([])
    try:
        async with aiohttp.ClientSession() as web_client:
            async with web_client.get(f"{url_of(server)}/graph/v1.0/me") as answer:
                assert answer.status == 503 and answer.headers["Retry-After"]
                assert "no node runs the graph service" in (await answer.json())["error"]["message"]
        server2, forwarder2 = await front([Entry("graph", "other", url_of(upstream), "ready")])
        async with aiohttp.ClientSession() as web_client:
            async with web_client.get(f"{url_of(server2)}/graph/echo",
                                      headers={FORWARDED: "elsewhere"}) as answer:
                assert answer.status == 502
                assert "already forwarded" in json.dumps(await answer.json())
        await forwarder2.close()
        await server2.close()
    finally:
        await forwarder.close()
        await server.close()
        await asyncio.sleep(0)


async def _short(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "500"})
    await response.prepare(request)
    await response.write(b"z" * 100)
    assert request.transport is not None
    request.transport.abort()           # dies before its small answer is complete
    return response


async def test_small_answer_broken_off_is_a_502_and_small_answers_pass(
        upstream: TestServer) -> None:
    server, forwarder = await front([Entry("graph", "other", url_of(upstream), "ready")])
    try:
        async with aiohttp.ClientSession() as web_client:
            async with web_client.get(f"{url_of(server)}/graph/file") as answer:
                assert answer.status == 200 and await answer.read() == b"x" * 1000
            async with web_client.get(f"{url_of(server)}/graph/short") as answer:
                assert answer.status == 502
                assert "did not answer" in (await answer.json())["error"]["message"]
    finally:
        await forwarder.close()
        await server.close()
