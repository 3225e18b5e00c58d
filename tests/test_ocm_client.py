"""The one outbound OCM client against real peers on loopback: two instances ("zurich" and
"paris", each with OCM on and a providers file naming the other) discover each other; a stand-in
remote made hostile (slow, 10 MB, a gzip bomb, a redirect, a forged endPoint) is refused or
bounded with a clear error; a bystander server that nobody listed never gets a single request."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ocis_server.services.ocm.client import OcmClient, PeerError, PeerRefused
from ocis_server.services.ocm.discovery import discover
from ocis_server.services.ocm.providers import Providers, UnknownProvider
from ocm_peers import counting_app, providers_file, serve, write_providers, zurich_and_paris

GOOD = {"enabled": True, "apiVersion": "1.1.0", "provider": "stand-in",
        "resourceTypes": [{"name": "file", "shareTypes": ["user"],
                           "protocols": {"webdav": "/dav/ocm/"}}], "capabilities": []}


def hostile_app(state: dict[str, str]) -> web.Application:
    """A remote whose /.well-known/ocm misbehaves as `state["mode"]` says."""
    async def well_known(request: web.Request) -> web.StreamResponse:
        mode, base = state["mode"], f"http://{request.host}"
        if mode == "good":
            return web.json_response({**GOOD, "endPoint": base + "/ocm"})
        if mode == "legacy":
            raise web.HTTPNotFound()
        if mode == "slow":
            await asyncio.sleep(10)
        if mode == "big":                    # 10 MB announced and sent
            return web.Response(body=b" " * (10 * 1024 * 1024), content_type="application/json")
        if mode == "chunked":                # 10 MB without a length, streamed
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for _ in range(160):
                await resp.write(b" " * 65536)
            return resp
        if mode == "gzip":                   # 10 MB of JSON white space in a 10 kB gzip body
            body = gzip.compress(b" " * (10 * 1024 * 1024))
            return web.Response(body=body, headers={"Content-Encoding": "gzip",
                                                    "Content-Type": "application/json"})
        if mode == "redirect":
            raise web.HTTPFound(state["bystander"] + "/.well-known/ocm")
        if mode == "forged":                 # an endPoint on a host nobody listed
            return web.json_response({**GOOD, "endPoint": state["bystander"] + "/ocm"})
        if mode == "forged-webdav":
            return web.json_response({**GOOD, "endPoint": base + "/ocm", "resourceTypes": [
                {"name": "file", "protocols": {"webdav": state["bystander"] + "/dav/"}}]})
        if mode == "disabled":
            return web.json_response({**GOOD, "enabled": False, "endPoint": base + "/ocm"})
        if mode == "version":
            return web.json_response({**GOOD, "apiVersion": "2.0.0", "endPoint": base + "/ocm"})
        return web.Response(text="<html>not json</html>", content_type="text/html")

    async def legacy(request: web.Request) -> web.Response:
        return web.json_response({**GOOD, "endPoint": f"http://{request.host}/ocm"})

    app = web.Application()
    app.router.add_get("/.well-known/ocm", well_known)
    app.router.add_get("/ocm-provider", legacy)
    return app


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[tuple[OcmClient, dict[str, str], list[str]]]:
    """A client whose providers file lists the hostile remote as `evil.test`; the bystander (the
    address a redirect or forged document points to) is listed nowhere."""
    hits: list[str] = []
    state = {"mode": "good"}
    async with serve(counting_app(hits)) as bystander, serve(hostile_app(state)) as remote:
        state["bystander"] = bystander
        path = write_providers(tmp_path / "ocmproviders.json", {"evil.test": remote})
        client = OcmClient(Providers(path), insecure=True, connect_timeout=1.0, timeout=1.0,
                           max_response_size=1024 * 1024)
        try:
            yield client, state, hits
        finally:
            await client.close()
            assert hits == [], "a request reached an address the providers file does not name"


async def test_two_instances_discover_each_other(tmp_path: Path) -> None:
    zurich_file, paris_file = providers_file(tmp_path, "zurich"), providers_file(tmp_path, "paris")
    async with zurich_and_paris(tmp_path) as (zurich, paris):
        for own, other_domain, other in ((zurich_file, "paris.test", paris),
                                         (paris_file, "zurich.test", zurich)):
            client = OcmClient(Providers(own), insecure=True)
            try:
                found = await discover(client, client.providers.get(other_domain))
            finally:
                await client.close()
            assert found.endpoint == f"{other.url}/ocm" and found.name == "oCIS"
            assert found.webdav_root == f"{other.url}/dav/ocm"
            assert found.api_version == "1.1.0" and found.share_types == ("user",)
        # Without the INSECURE setting, plain http (even on loopback) is refused before any
        # connection is made.
        strict = OcmClient(Providers(zurich_file))
        try:
            with pytest.raises(PeerRefused, match="plain http .* refused"):
                await discover(strict, strict.providers.get("paris.test"))
        finally:
            await strict.close()
        with pytest.raises(UnknownProvider, match="not a trusted OCM provider"):
            strict.providers.get("lyon.test")


async def test_legacy_discovery_path_is_the_fallback(peers: tuple[OcmClient, dict[str, str], list[str]]) -> None:
    client, state, _ = peers
    state["mode"] = "legacy"
    found = await discover(client, client.providers.get("evil.test"))
    assert found.endpoint.endswith("/ocm") and found.webdav_root.endswith("/dav/ocm/")


@pytest.mark.parametrize("mode, message", [
    ("slow", "did not answer in time"),
    ("big", "more than the 1048576 accepted"),
    ("chunked", "more than the 1048576 bytes accepted"),
    ("gzip", "more than the 1048576 bytes accepted"),
    ("redirect", "answered 302 .*redirect.* not followed"),
    ("forged", "endPoint is not an OCM endpoint listed for it"),
    ("forged-webdav", "WebDAV root is not on an origin listed"),
    ("disabled", "OCM is not enabled there"),
    ("version", "unsupported OCM apiVersion '2.0.0'"),
    ("html", "not JSON"),
])
async def test_a_hostile_peer_is_refused_or_bounded(
        peers: tuple[OcmClient, dict[str, str], list[str]], mode: str, message: str) -> None:
    client, state, _ = peers
    state["mode"] = mode
    started = time.monotonic()
    with pytest.raises(PeerError, match=message) as caught:
        await discover(client, client.providers.get("evil.test"))
    assert time.monotonic() - started < 5          # the 1 s time-out bounds every case
    assert caught.value.status == 502 and "evil.test" in caught.value.message


async def test_no_request_to_an_address_the_file_does_not_name(
        peers: tuple[OcmClient, dict[str, str], list[str]]) -> None:
    client, state, hits = peers
    evil = client.providers.get("evil.test")
    for url in (state["bystander"] + "/ocm/shares",              # another port on loopback
                evil.base_url.replace("127.0.0.1", "localhost") + "/ocm/shares",  # another name
                "https://127.0.0.1:1/ocm/shares", "file:///etc/passwd", "/ocm/shares"):
        with pytest.raises(PeerRefused, match="not an endpoint of evil.test"):
            await client.request(evil, "POST", url, {"shareWith": "marie"})
    # https is the rule; http is allowed (with INSECURE) only to loopback: a provider listed at
    # a plain-http public address is refused without a connection attempt.
    path = write_providers(client.providers.path.parent / "public.json",
                           {"public.test": "http://192.0.2.10"})
    public = OcmClient(Providers(path), insecure=True, timeout=30)
    started = time.monotonic()
    with pytest.raises(PeerRefused, match="plain http to 192.0.2.10 is refused"):
        await discover(public, public.providers.get("public.test"))
    assert time.monotonic() - started < 1
    await public.close()
    assert hits == []


async def test_a_peer_that_accepts_but_never_answers_times_out(tmp_path: Path) -> None:
    """A TCP listener that takes the connection and says nothing: the total time-out ends it."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = write_providers(tmp_path / "ocmproviders.json", {"mute.test": f"http://127.0.0.1:{port}"})
    client = OcmClient(Providers(path), insecure=True, connect_timeout=0.5, timeout=0.8)
    started = time.monotonic()
    try:
        with pytest.raises(PeerError, match="mute.test did not answer in time"):
            await discover(client, client.providers.get("mute.test"))
        assert time.monotonic() - started < 3
    finally:
        await client.close()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_peer_that_is_down_is_a_clear_error(tmp_path: Path, free_port: object) -> None:
    port = free_port()  # type: ignore[operator]
    path = write_providers(tmp_path / "ocmproviders.json", {"down.test": f"http://127.0.0.1:{port}"})
    client = OcmClient(Providers(path), insecure=True, connect_timeout=0.5, timeout=1)
    try:
        with pytest.raises(PeerError, match="down.test cannot be reached"):
            await discover(client, client.providers.get("down.test"))
    finally:
        await client.close()


async def test_a_peers_refusal_is_passed_on_as_short_plain_text(tmp_path: Path) -> None:
    """What a hostile recipient answers to a share ends up in our error as at most 200 printable
    characters per string (no control characters, no 10 kB message), whatever it sends."""
    from ocis_server.services.ocm.outgoing import NewShare, send_share

    async def shares(request: web.Request) -> web.Response:
        return web.json_response(status=400, data={
            "message": "BAD\r\nSet-Cookie: x=1\x1b[31m" + "A" * 10_000,
            "validationErrors": [{"name": "shareWith\n", "message": "<b>NO</b>"}] * 50})

    async def well_known(request: web.Request) -> web.Response:
        return web.json_response({**GOOD, "endPoint": f"http://{request.host}/ocm"})

    app = web.Application()
    app.router.add_get("/.well-known/ocm", well_known)
    app.router.add_post("/ocm/shares", shares)
    async with serve(app) as remote:
        path = write_providers(tmp_path / "ocmproviders.json", {"rude.test": remote})
        client = OcmClient(Providers(path), insecure=True)
        share = NewShare(share_with="marie@rude.test", name="x", provider_id="1", owner="a@b.test",
                         sender="a@b.test", owner_display_name="", sender_display_name="",
                         resource_type="file", permissions=("read",), secret="s",
                         uri="https://b.test/dav/ocm/1")
        try:
            with pytest.raises(PeerError) as caught:
                await send_share(client, share)
        finally:
            await client.close()
    message = caught.value.message
    assert message.startswith("rude.test refused the share (400): BADSet-Cookie: x=1[31mAAA")
    assert all(c.isprintable() for c in message) and len(message) < 1200
    assert message.count("shareWith: <b>NO</b>") == 10          # at most ten fields named
