"""Bounded connections: a cap overall and per client address (the longest idle keep-alive
connection gives way to a new one; with none idle, accepting waits, or the address gets a 503),
a body that trickles is cut off, and under a 1,024 descriptor limit a flood of 1,100 idle
keep-alive connections neither starves the storage of descriptors nor stops the server: curl keeps
being served and `ocis health` stays healthy."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import resource
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.connections import Caps, address_key
from ocis_server.services import ServiceSpec, by_name
from ocis_server.services.context import ServiceContext

ADMIN = "Basic " + base64.b64encode(b"admin:admin").decode()


def slow_app(ctx: ServiceContext, mount: str) -> web.Application:
    """Answers after `?sleep=` seconds; reads whatever body comes."""
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(float(request.query.get("sleep", "0")))
        return web.json_response({"size": len(body)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


SLOW = ServiceSpec("slow", "answers slowly", group=3, app=f"{__name__}:slow_app", mounts=("/slow",),
                   unprotected=("/slow",), depends=("users",))
SPECS = (by_name()["users"], SLOW, ServiceSpec("proxy", "front door", group=5, entry=True))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _raw_get(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A kept-alive connection that has had one answer (so it is idle now)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    await reader.readexactly(length)
    return reader, writer, head


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except (asyncio.TimeoutError, ConnectionError):
        return False


def test_caps_leave_the_reserve_free() -> None:
    assert Caps.for_limit(4096, 256, 512, 1024) == Caps(512, 256)
    assert Caps.for_limit(100, 256, 512, 1_000_000) == Caps(100, 100)
    assert Caps.for_limit(4096, 0, 256, 100).total == 8          # never nothing at all
    assert address_key(("2001:db8::1", 1, 0, 0)) == address_key(("2001:db8::2", 2, 0, 0))
    assert address_key(("::ffff:10.0.0.1", 1, 0, 0)) == "10.0.0.1"


async def test_per_address_cap_closes_the_longest_idle_then_refuses(
        tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = make_test_config(tmp_path, PROXY_MAX_CONNECTIONS_PER_ADDRESS="3")
    async with embedded_server(config, specs=SPECS) as srv:
        host, port = srv.url.removeprefix("http://").split(":")
        idle = [await _raw_get(host, int(port), "/slow/x") for _ in range(3)]
        # a fourth connection from the same address: the one idle longest makes room
        async with http.get(f"{srv.url}/slow/y") as resp:
            assert resp.status == 200
        assert await _closed(idle[0][0], 2)
        assert not await _closed(idle[2][0], 0.2)
        for _, writer, _ in idle:
            writer.close()
        await http.close()
        # three requests under way: nothing idle to close, the next connection is refused
        async with aiohttp.ClientSession() as busy:
            slow = [asyncio.create_task(busy.get(f"{srv.url}/slow/z?sleep=1.5")) for _ in range(3)]
            await asyncio.sleep(0.5)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /slow/x HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in answer
            for task in slow:
                assert (await task).status == 200


async def test_at_the_overall_cap_accepting_waits_instead_of_failing(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_MAX_CONNECTIONS="2",
                              PROXY_MAX_CONNECTIONS_PER_ADDRESS="0")
    async with embedded_server(config, specs=SPECS) as srv, aiohttp.ClientSession() as busy:
        slow = [asyncio.create_task(busy.get(f"{srv.url}/slow/z?sleep=1.0")) for _ in range(2)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        async with aiohttp.ClientSession() as late, late.get(f"{srv.url}/slow/x") as resp:
            assert resp.status == 200                     # served once a slot was free ...
        took = time.monotonic() - started
        assert 0.4 < took < 2.5, took                     # ... not before, and soon after: the
        for task in slow:                                 # busy ones stay open, idle, and the
            assert (await task).status == 200             # longest idle gives way


async def test_a_trickling_body_is_cut_off_a_steady_one_is_not(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_BODY_MIN_BYTES="200", PROXY_BODY_RATE_WINDOW="0.5",
                              PROXY_IDLE_TIMEOUT="10")
    async with embedded_server(config, specs=SPECS) as srv:
        host, port = srv.url.removeprefix("http://").split(":")

        async def upload(chunk: int, pause: float, total: int) -> tuple[bytes, float]:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"PUT /slow/f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         f"Content-Length: {total}\r\n\r\n"
                         .encode())
            started, sent = time.monotonic(), 0
            try:
                while sent < total:
                    writer.write(b"x" * chunk)
                    await writer.drain()
                    sent += chunk
                    await asyncio.sleep(pause)
                return await asyncio.wait_for(reader.read(), 5), time.monotonic() - started
            except ConnectionError:
                return b"", time.monotonic() - started
            finally:
                writer.close()

        # 10 bytes every 0.1 s: 50 bytes per 0.5 s window, under the 200 asked for
        answer, took = await upload(10, 0.1, 1000)
        assert b"200 OK" not in answer and took < 3, (answer[:100], took)
        # 200 bytes every 0.1 s: well above the minimum rate, for longer than a few windows
        answer, took = await upload(200, 0.1, 4000)
        assert answer.startswith(b"HTTP/1.1 200") and b'"size": 4000' in answer and took > 1.5


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, 1024))     # the server raises it to 1024


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:admin",
                           "--max-time", "10", *args], capture_output=True, text=True, timeout=20,
                          check=False)


@pytest.mark.slow
def test_a_flood_of_idle_connections_under_1024_descriptors_does_not_stop_the_server(
        real_server_factory, tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, "the test itself needs 1,100+ sockets"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(256 * 1024))
    env = {"OCIS_LOG_LEVEL": "info", "OCIS_RUNTIME_HEALTH_INTERVAL": "0.5",
           "PROXY_MAX_CONNECTIONS_PER_ADDRESS": "0"}      # one address: the overall cap is tested
    with real_server_factory(tmp_path / "srv", env, preexec_fn=_limit_descriptors) as server:
        pid = server.process.pid
        log = server.log_tail(100_000)
        assert "soft limit raised from 512 to 1024" in log, log[-3000:]
        assert "at most 512 client connections" in log, log[-3000:]
        flood: list[socket.socket] = []
        try:
            for _ in range(1100):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                sock.sendall(b"GET /status.php HTTP/1.1\r\nHost: x\r\n\r\n")
                flood.append(sock)
            time.sleep(1.5)              # two health rounds of the storage under the flood
            open_fds = len(os.listdir(f"/proc/{pid}/fd"))
            assert open_fds <= 1024 - 256, open_fds        # the reserve was never eaten
            # curl, a real client, is served meanwhile: upload, download, listing
            url = f"{server.url}/remote.php/webdav/flood.bin"
            assert _curl("-T", str(payload), url).stdout == "201"
            assert _curl(url).stdout == "200"
            assert _curl("-X", "PROPFIND", "-H", "Depth: 1", f"{server.url}/remote.php/webdav/"
                         ).stdout == "207"
            health = server.ocis("health")
            assert health.returncode == 0 and health.stdout.startswith("healthy"), health
            assert server.process.poll() is None
        finally:
            for sock in flood:
                sock.close()
        log = server.log_tail(1_000_000)
        assert "degraded" not in log and "Too many open files" not in log, log[-3000:]
        print(f"\ndescriptors of the server under a flood of 1,100 connections: {open_fds} of 1024")


def _limit_descriptors_256() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def _wait_for_line(server, text: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while text not in server.log_tail(2_000_000):
        assert server.process.poll() is None, server.log_tail()
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{server.log_tail()}"
        time.sleep(0.2)


@pytest.mark.slow
def test_out_of_descriptors_the_storage_degrades_and_recovers_by_itself(
        real_server_factory, tmp_path: Path) -> None:
    """Without the reserve (PROXY_RESERVED_FILE_DESCRIPTORS=0) a flood does eat every descriptor:
    the storage's check meets EMFILE, the service is degraded instead of given up (the process
    outlives many times OCIS_RUNTIME_MAX_FAILURES), and it is ready again once the flood ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    env = {"OCIS_LOG_LEVEL": "info", "OCIS_RUNTIME_HEALTH_INTERVAL": "0.3",
           "OCIS_RUNTIME_RESTART_BACKOFF": "0.1", "OCIS_RUNTIME_MAX_RESTART_BACKOFF": "0.5",
           "OCIS_RUNTIME_MAX_FAILURES": "2", "PROXY_RESERVED_FILE_DESCRIPTORS": "0",
           "PROXY_MAX_CONNECTIONS_PER_ADDRESS": "0",
           "IDM_MAX_CONNECTIONS": "0"}   # nothing kept apart for idm either: no reserve at all
    with real_server_factory(tmp_path / "srv", env, preexec_fn=_limit_descriptors_256) as server:
        flood: list[socket.socket] = []
        try:
            for _ in range(400):
                sock = socket.socket()
                sock.settimeout(5)
                sock.connect(("127.0.0.1", server.port))       # the backlog takes the rest
                flood.append(sock)
            _wait_for_line(server, "service storage-users degraded", 30)
            time.sleep(3)                # many re-checks: far beyond OCIS_RUNTIME_MAX_FAILURES
            assert server.process.poll() is None
        finally:
            for sock in flood:
                sock.close()
        _wait_for_line(server, "service storage-users recovered", 30)
        health = server.ocis("health")
        assert health.returncode == 0, health
        assert _curl(f"{server.url}/remote.php/webdav/", "-X", "PROPFIND", "-H", "Depth: 0"
                     ).stdout == "207"
        assert "giving up" not in server.log_tail(2_000_000)


async def test_a_trusted_reverse_proxy_has_no_per_address_cap(tmp_path: Path) -> None:
    """Every client comes through a reverse proxy: its address must not be capped like one
    client's (the overall cap still holds)."""
    config = make_test_config(tmp_path, PROXY_MAX_CONNECTIONS_PER_ADDRESS="2",
                              PROXY_TRUSTED_PROXIES="127.0.0.0/8")
    async with embedded_server(config, specs=SPECS) as srv, aiohttp.ClientSession() as busy:
        slow = [asyncio.create_task(busy.get(f"{srv.url}/slow/z?sleep=0.8")) for _ in range(5)]
        for task in slow:
            assert (await task).status == 200        # five at once from one (trusted) address
