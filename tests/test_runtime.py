"""The runtime: embedded server with the real services, the proxy's authentication and limits, the
control API, the supervisor's restarts and give-up, service selection, and SIGTERM of a real process."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ocis_server.config import Config, ConfigError, load_config
from ocis_server.runtime import embedded_server, make_test_config, select_services
from ocis_server.runtime.instance import Runtime
from ocis_server.runtime.supervisor import State, Supervisor
from ocis_server.services import SERVICES, ServiceSpec, by_name
from ocis_server.services.context import ServiceContext

REPO_ROOT = Path(__file__).resolve().parent.parent
EINSTEIN = "Basic " + base64.b64encode(b"einstein:relativity").decode()


def echo_app(ctx: ServiceContext, mount: str) -> web.Application:
    """A tiny service for proxy tests: says who is calling and how big the body was."""
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("sleep", "0")))
        body = await request.read()
        user = request["principal"]
        return web.json_response({"mount": mount, "user": user.username if user else None,
                                  "size": len(body)})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


ECHO = ServiceSpec("echo", "test service", group=3, app=f"{__name__}:echo_app", mounts=("/echo",),
                   unprotected=("/echo/public",), depends=("users",))
PROXY = by_name()["proxy"]
TEST_SPECS = (by_name()["users"], ECHO, PROXY)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_embedded_server_runs_the_real_services(tmp_path: Path,
                                                      http: aiohttp.ClientSession) -> None:
    config = make_test_config(tmp_path)
    async with embedded_server(config) as srv:
        assert srv.ctx.public_url == srv.url          # OCIS_URL follows the free port
        async with http.get(f"{srv.runtime_url}/services") as resp:
            services = await resp.json()
        assert [s["name"] for s in services] == [s.name for s in sorted(SERVICES, key=lambda s: s.group)
                                                if s.default]
        assert {s["state"] for s in services} == {"ready"}
        assert all(s["restarts"] == 0 and s["since"].endswith("Z") for s in services)
        for path in ("/health", "/healthz", "/readyz"):
            async with http.get(f"{srv.runtime_url}{path}") as resp:
                assert resp.status == 200, await resp.text()
        async with http.get(f"{srv.runtime_url}/health") as resp:
            assert (await resp.json())["status"] == "healthy"
        async with http.get(f"{srv.url}/status.php") as resp:
            assert resp.status == 200 and (await resp.json())["installed"] is True
        async with http.request("PROPFIND", f"{srv.url}/remote.php/dav/files/einstein/",
                                headers={"Authorization": EINSTEIN, "Depth": "0"}) as resp:
            assert resp.status == 207      # demo user, with a personal space made at bootstrap
        users = {u.username for u in await srv.ctx.users.list()}
        assert users == {"admin", "einstein", "marie", "moss", "richard", "katherine"}
        space = await srv.ctx.storage.get_space(config.admin_user_id)
        assert space.type == "personal" and space.alias == "personal/admin"


async def test_protected_paths_answer_401_in_the_service_format(tmp_path: Path,
                                                                http: aiohttp.ClientSession) -> None:
    async with embedded_server(make_test_config(tmp_path)) as srv:
        async with http.request("PROPFIND", f"{srv.url}/remote.php/dav/files/einstein/") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="ocis", charset="UTF-8"'
            body = await resp.text()
            assert "Sabre\\DAV\\Exception\\NotAuthenticated" in body and "<d:error" in body
        for header in ("Basic %%%not-base64", "Basic " + base64.b64encode(b"einstein:wrong").decode(),
                       "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "Bearer x.y.z"):
            async with http.get(f"{srv.url}/remote.php/webdav/",
                                headers={"Authorization": header}) as resp:
                assert resp.status == 401, header
        async with http.get(f"{srv.url}/ocs/v2.php/cloud/user?format=json") as resp:
            assert resp.status == 401
            assert (await resp.json())["ocs"]["meta"]["statuscode"] == 997
        async with http.get(f"{srv.url}/ocs/v1.php/cloud/user") as resp:
            assert resp.status == 401 and "<statuscode>997</statuscode>" in await resp.text()
        async with http.get(f"{srv.url}/graph/v1.0/me") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthenticated"
        async with http.get(f"{srv.url}/ocs/v1.php/cloud/capabilities?format=json") as resp:
            assert resp.status == 200                  # unprotected
        async with http.get(f"{srv.url}/status.php",
                            headers={"Authorization": "Basic %%%"}) as resp:
            assert resp.status == 200                  # public paths ignore bad credentials
        async with http.options(f"{srv.url}/remote.php/dav/files/einstein/") as resp:
            assert resp.status != 401
        async with http.get(f"{srv.url}/no/such/service") as resp:
            assert resp.status == 404


async def test_basic_auth_off_really_refuses_basic(tmp_path: Path,
                                                   http: aiohttp.ClientSession) -> None:
    config = make_test_config(tmp_path, basic_auth=False)
    async with (embedded_server(config, specs=TEST_SPECS) as srv,
                http.get(f"{srv.url}/echo/x", headers={"Authorization": EINSTEIN}) as resp):
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_principal_is_set_on_public_paths_when_credentials_are_valid(
        tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with embedded_server(make_test_config(tmp_path), specs=TEST_SPECS) as srv:
        async with http.get(f"{srv.url}/echo/public/x") as resp:
            assert (await resp.json())["user"] is None
        async with http.get(f"{srv.url}/echo/public/x", headers={"Authorization": EINSTEIN}) as resp:
            assert (await resp.json())["user"] == "einstein"
        async with http.get(f"{srv.url}/echo/publicity") as resp:
            assert resp.status == 401                  # a prefix match stops at a path segment
        async with http.get(f"{srv.url}/echo/private", headers={"Authorization": EINSTEIN}) as resp:
            assert resp.status == 200 and (await resp.json())["user"] == "einstein"


async def test_body_cap_and_header_read_timeout(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = make_test_config(tmp_path, PROXY_MAX_BODY_SIZE="1000", PROXY_HEADER_READ_TIMEOUT="0.3")
    async with embedded_server(config, specs=TEST_SPECS) as srv:
        headers = {"Authorization": EINSTEIN}
        async with http.put(f"{srv.url}/echo/f", data=b"x" * 1000, headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["size"] == 1000
        async with http.put(f"{srv.url}/echo/f", data=b"x" * 1001, headers=headers) as resp:
            assert resp.status == 413
        host, port = srv.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /status.php HTTP/1.1\r\nHost: x\r\n")     # never finishes its headers
        await writer.drain()
        started = time.monotonic()
        data = await asyncio.wait_for(reader.read(), 5)
        assert data == b"" and time.monotonic() - started < 3      # closed by the deadline
        writer.close()
        async with http.get(f"{srv.url}/echo/public/") as resp:      # others are unaffected
            assert resp.status == 200


async def test_stop_lets_in_flight_requests_finish(tmp_path: Path,
                                                  http: aiohttp.ClientSession) -> None:
    runtime = Runtime(make_test_config(tmp_path), specs=TEST_SPECS)
    await runtime.start()
    slow = asyncio.create_task(http.get(f"{runtime.url}/echo/public/?sleep=0.5"))
    await asyncio.sleep(0.2)                     # the request is in the handler now
    await runtime.stop()
    resp = await slow
    assert resp.status == 200 and (await resp.json())["mount"] == "/echo"
    with pytest.raises(aiohttp.ClientConnectionError):
        await http.get(f"{runtime.url}/echo/public/")           # no longer accepting


async def test_early_error_with_an_unread_body_completes_and_stop_is_prompt(tmp_path: Path) -> None:
    """A 409 answered before a big PUT body is read must finish (a shadowed aiohttp flow-control
    flag once left such responses hanging in drain until the shutdown timeout)."""
    runtime = Runtime(make_test_config(tmp_path))
    await runtime.start()
    try:
        host, port = runtime.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        body = os.urandom(1_200_000)
        auth = base64.b64encode(b"admin:admin").decode()
        writer.write(f"PUT /remote.php/webdav/no-such-folder/f.bin HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Basic {auth}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        writer.write(body)
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 409")
        writer.close()
    finally:
        started = time.monotonic()
        await runtime.stop()
    assert time.monotonic() - started < 5


async def test_without_a_user_store_the_proxy_answers_502(tmp_path: Path,
                                                         http: aiohttp.ClientSession) -> None:
    specs = (ECHO, PROXY)
    async with embedded_server(make_test_config(tmp_path), specs=specs) as srv:
        async with http.get(f"{srv.url}/echo/x", headers={"Authorization": EINSTEIN}) as resp:
            assert resp.status == 502
            assert "users service is not running" in (await resp.json())["error"]["message"]
        async with http.get(f"{srv.url}/echo/public/", headers={"Authorization": EINSTEIN}) as resp:
            assert resp.status == 200 and (await resp.json())["user"] is None


async def test_excluded_service_is_not_run(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    config = make_test_config(tmp_path, OCIS_EXCLUDE_RUN_SERVICES="graph")
    async with embedded_server(config) as srv:
        async with http.get(f"{srv.runtime_url}/services") as resp:
            names = {s["name"] for s in await resp.json()}
        assert "graph" not in names and {"ocdav", "proxy"} <= names
        async with http.get(f"{srv.url}/graph/v1.0/me", headers={"Authorization": EINSTEIN}) as resp:
            assert resp.status == 404


def test_service_selection(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    def names(specs: list[ServiceSpec]) -> list[str]:
        return [s.name for s in specs]

    assert names(select_services(config)) == [s.name for s in SERVICES if s.default]
    config.run_services = ["storage-users", "users"]
    assert names(select_services(config)) == ["storage-users", "users"]
    config.run_services = []
    config.exclude_run_services = ["frontend"]
    assert "frontend" not in names(select_services(config))
    only = names(select_services(config, only=["ocdav"]))
    assert set(only) == {"storage-users", "users", "ocdav", "proxy"}
    config.add_run_services = ["nonsense"]
    with pytest.raises(ConfigError, match="OCIS_ADD_RUN_SERVICES: nonsense"):
        select_services(config)


async def test_two_instances_side_by_side(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    a = make_test_config(tmp_path / "a", demo_users=False)
    b = make_test_config(tmp_path / "b", demo_users=False)
    async with embedded_server(a) as one, embedded_server(b) as two:
        assert one.url != two.url and one.runtime_url != two.runtime_url
        for srv in (one, two):
            async with http.get(f"{srv.runtime_url}/health") as resp:
                assert resp.status == 200


async def test_uninitialised_config_is_refused(tmp_path: Path) -> None:
    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path), "OCIS_BASE_DATA_PATH": str(tmp_path),
                          "PROXY_HTTP_ADDR": "127.0.0.1:0", "OCIS_RUNTIME_PORT": "0"})
    with pytest.raises(ConfigError, match="ocis init"):
        async with embedded_server(config):
            pass


async def test_busy_runtime_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_test_config(tmp_path, OCIS_RUNTIME_PORT=str(port))
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with embedded_server(config):
                pass


async def test_debug_listener_serves_real_checks(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_test_config(tmp_path, USERS_DEBUG_ADDR=f"127.0.0.1:{port}")
    async with embedded_server(config, specs=TEST_SPECS) as srv:
        for path in ("/healthz", "/readyz"):
            async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                assert resp.status == 200
        unit = srv.supervisor.unit("users")
        assert unit is not None
        await unit.stop()                       # the store is closed: the real check fails
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 503


# --- supervisor ------------------------------------------------------------------------------
class FlakyUnit:
    """Starts fine; its run() crashes `crashes` times (forever when None), then keeps running."""

    def __init__(self, spec: ServiceSpec, crashes: int | None) -> None:
        self.spec = spec
        self.crashes = crashes
        self.starts: list[float] = []
        self.stops = 0

    async def start(self) -> None:
        self.starts.append(time.monotonic())

    async def run(self) -> None:
        await asyncio.sleep(0.01)
        if self.crashes is None or self.crashes > 0:
            if self.crashes:
                self.crashes -= 1
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    async def check(self) -> None:
        return None

    async def stop(self) -> None:
        self.stops += 1


def crashing_unit(spec: ServiceSpec, ctx: ServiceContext) -> FlakyUnit:
    return FlakyUnit(spec, None)


FLAKY = ServiceSpec("flaky", "crashes on purpose", group=1, unit=f"{__name__}:crashing_unit")


async def test_supervisor_restarts_with_backoff_then_gives_up() -> None:
    unit = FlakyUnit(FLAKY, crashes=None)
    supervisor = Supervisor([unit], backoff=0.05, max_failures=4)
    await supervisor.start()
    await asyncio.wait_for(supervisor.gave_up.wait(), 5)
    status = supervisor.status["flaky"]
    assert status.state is State.FAILED and "boom" in status.error
    assert status.restarts == 3 and len(unit.starts) == 4
    gaps = [b - a for a, b in zip(unit.starts, unit.starts[1:])]
    for n, gap in enumerate(gaps):
        assert gap >= 0.05 * 2 ** n * 0.9, gaps       # exponential backoff: 0.05, 0.1, 0.2
    assert "flaky failed 4 times" in supervisor.failure
    await supervisor.stop()


async def test_supervisor_recovers_a_service_that_crashed_once() -> None:
    unit = FlakyUnit(FLAKY, crashes=1)
    supervisor = Supervisor([unit], backoff=0.01, max_failures=3)
    await supervisor.start()
    for _ in range(200):
        if supervisor.status["flaky"].restarts == 1 and supervisor.status["flaky"].state is State.READY:
            break
        await asyncio.sleep(0.01)
    assert supervisor.status["flaky"].state is State.READY
    assert not supervisor.gave_up.is_set()
    await supervisor.stop()
    assert supervisor.status["flaky"].state is State.STOPPED and unit.stops >= 2


async def test_runtime_exits_non_zero_when_a_service_gives_up(tmp_path: Path) -> None:
    config: Config = make_test_config(tmp_path, OCIS_RUNTIME_RESTART_BACKOFF="0.01",
                                      OCIS_RUNTIME_MAX_FAILURES="2")
    runtime = Runtime(config, specs=(FLAKY,))
    await runtime.start()
    assert await asyncio.wait_for(runtime.wait(), 5) == 1
    await runtime.stop()


# --- a real process ------------------------------------------------------------------------
def _spawn(env: dict[str, str]) -> subprocess.Popen[str]:
    code = "from ocis_server.runtime.main import main; raise SystemExit(main())"
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCIS_", "PROXY_", "IDM_"))}
    return {**env, "PYTHONPATH": str(REPO_ROOT), "OCIS_CONFIG_DIR": str(tmp_path / "config"),
            "OCIS_BASE_DATA_PATH": str(tmp_path / "data"), "PROXY_HTTP_ADDR": "127.0.0.1:0",
            "OCIS_RUNTIME_PORT": "0", "IDM_LDAPS_ADDR": "127.0.0.1:0", "OCIS_LOG_LEVEL": "info",
            "OCIS_WORKERS": "1"}     # this process's own signals and exit codes


def test_sigterm_stops_a_real_server_promptly(tmp_path: Path) -> None:
    env = _env(tmp_path)
    make_test_config(tmp_path, demo_users=False)            # `ocis init` into tmp_path/config
    proc = _spawn(env)
    assert proc.stderr is not None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "ocis.server: ready:" in line or not line:
                break
        assert "ocis.server: ready:" in lines[-1], "".join(lines)[-3000:]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_real_server_refuses_to_start_without_config(tmp_path: Path) -> None:
    proc = _spawn(_env(tmp_path))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "ocis init" in err


# --- event loop (OCIS_EVENT_LOOP) -------------------------------------------------------------

def test_event_loop_setting_picks_the_loop(tmp_path: Path) -> None:
    import uvloop

    from ocis_server.runtime.main import loop_factory
    assert load_config({"OCIS_CONFIG_DIR": str(tmp_path)}).event_loop == "uvloop"
    assert load_config({"OCIS_CONFIG_DIR": str(tmp_path),
                        "OCIS_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory(" AsyncIO ") is asyncio.new_event_loop
    with pytest.raises(ConfigError, match="uvloop or asyncio"):
        loop_factory("trio")


def test_event_loop_falls_back_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    from ocis_server.runtime.main import loop_factory
    monkeypatch.setitem(sys.modules, "uvloop", None)     # `import uvloop` raises ImportError
    assert loop_factory("uvloop") is asyncio.new_event_loop



def test_malloc_arenas_are_capped_unless_the_operator_chose(monkeypatch):
    """run_server caps glibc's malloc arenas (peak RSS grows with threads otherwise); an
    operator's MALLOC_ARENA_MAX is left alone."""
    import ctypes

    from ocis_server.runtime import main as runtime_main

    calls = []

    class FakeLibc:
        def mallopt(self, option, value):
            calls.append((option, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: FakeLibc())
    monkeypatch.setattr(runtime_main.sys, "platform", "linux")
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    runtime_main.tune_malloc()
    assert calls == [(-8, 2), (-3, 4 << 20), (-1, 32 << 20)]   # arenas, mmap, trim thresholds
    calls.clear()
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    runtime_main.tune_malloc()
    assert calls == [(-3, 4 << 20), (-1, 32 << 20)]           # the operator's arena count wins
    calls.clear()
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072")
    runtime_main.tune_malloc()
    assert calls == []                                         # and their tunables win whole


def test_route_table_is_the_longest_covering_prefix() -> None:
    from ocis_server.runtime.proxy import Route, RouteTable, _under
    specs = {prefix: by_name()["ocdav"] for prefix in (
        "/", "/remote.php/webdav", "/remote.php/dav/", "/remote.php/dav/files", "/ocs", "/ocs/",
        "/status.php", "/s/", "/ab")}
    routes = [Route(prefix, spec, spec.resolve("errors")) for prefix, spec in specs.items()]

    def scan(path: str) -> Route | None:      # the definition: every prefix tried
        best = None
        for route in routes:
            if _under(path, route.prefix) and (best is None or len(route.prefix) > len(best.prefix)):
                best = route
        return best

    table = RouteTable(routes)
    for path in ("", "/", "//x", "/remote.php", "/remote.php/dav", "/remote.php/dav/",
                 "/remote.php/dav/files/a/b", "/remote.php/webdavx", "/ocs", "/ocs/v1.php",
                 "/status.php", "/status.phpx", "/s", "/s/token", "/ab/x", "/abc"):
        assert table(path) is scan(path), path
    assert RouteTable([Route("/x", routes[0].spec, routes[0].render)])("/y") is None
