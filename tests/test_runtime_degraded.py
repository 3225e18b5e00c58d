"""A service whose outside fails (disk, descriptors, LDAP) is degraded, never given up: its
requests answer 503 with Retry-After in the protocol's own format, it is retried with capped
backoff forever and is ready again by itself; `ocis health` says degraded (exit 7) meanwhile.
Only a bug ends the process."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import errno
import time
from pathlib import Path

import aiohttp
import pytest

from ocis_server.domain.errors import ServiceUnavailable
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.supervisor import State, Supervisor
from ocis_server.runtime.units import UsersUnit
from ocis_server.services import SERVICES, ServiceSpec
from ocis_server.services.context import ServiceContext

ADMIN = "Basic " + base64.b64encode(b"admin:admin").decode()
SPEC = ServiceSpec("outside", "depends on something outside", group=1)


class Outside:
    """A unit whose outside is away while `down` is set: start raises ServiceUnavailable,
    run and check raise EMFILE."""

    def __init__(self, *, down_at_start: bool) -> None:
        self.spec = SPEC
        self.down = down_at_start
        self.starts = self.stops = self.checks = 0
        self.kick = asyncio.Event()

    async def start(self) -> None:
        self.starts += 1
        if self.down:
            raise ServiceUnavailable("the directory does not answer")

    async def run(self) -> None:
        await self.kick.wait()
        self.kick.clear()
        await self.check()

    async def check(self) -> None:
        self.checks += 1
        if self.down:
            raise OSError(errno.EMFILE, "Too many open files")

    async def stop(self) -> None:
        self.stops += 1


async def _until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_unit_down_at_start_is_degraded_and_started_again_until_it_works() -> None:
    unit = Outside(down_at_start=True)
    supervisor = Supervisor([unit], backoff=0.01, max_failures=2, max_backoff=0.05)
    await supervisor.start()                   # does not raise, does not wait for the outside
    status = supervisor.status["outside"]
    assert status.state is State.DEGRADED and "directory does not answer" in status.error
    await _until(lambda: unit.starts >= 10)   # far beyond max_failures: never gives up
    assert not supervisor.gave_up.is_set() and status.state is State.DEGRADED
    assert (await supervisor.health())["outside"].startswith("degraded: cannot start")
    unit.down = False
    await _until(lambda: status.state is State.READY)
    assert (await supervisor.health())["outside"] == "ok"
    await supervisor.stop()


async def test_a_running_unit_degrades_in_place_and_recovers_without_a_restart() -> None:
    unit = Outside(down_at_start=False)
    supervisor = Supervisor([unit], backoff=0.01, max_failures=1, max_backoff=0.02)
    await supervisor.start()
    status = supervisor.status["outside"]
    assert status.state is State.READY
    unit.down = True
    unit.kick.set()                            # its next round meets EMFILE
    await _until(lambda: status.state is State.DEGRADED)
    assert "Too many open files" in status.error
    checks = unit.checks
    await _until(lambda: unit.checks >= checks + 20)    # re-checked, capped backoff, forever
    assert not supervisor.gave_up.is_set()
    assert unit.starts == 1 and unit.stops == 0        # left open: nothing to reopen
    unit.down = False
    await _until(lambda: status.state is State.READY)
    unit.down = True                                    # and it can degrade again
    unit.kick.set()
    await _until(lambda: status.state is State.DEGRADED)
    await supervisor.stop()


def failing_users(spec: ServiceSpec, ctx: ServiceContext) -> UsersUnit:
    """The users unit, with a directory that is away until `ctx.config` says otherwise."""
    unit = UsersUnit(spec, ctx)
    real_start = unit.start

    async def start() -> None:
        if (ctx.config.base_data_path / "directory-down").exists():
            raise ServiceUnavailable("the LDAP server does not answer")
        await real_start()

    unit.start = start                         # type: ignore[method-assign]
    return unit


async def test_requests_answer_503_with_retry_after_in_each_format_then_recover(
        tmp_path: Path) -> None:
    config = make_test_config(tmp_path, OCIS_RUNTIME_RESTART_BACKOFF="0.05",
                              OCIS_RUNTIME_MAX_RESTART_BACKOFF="0.2", OCIS_RUNTIME_MAX_FAILURES="1")
    flag = config.base_data_path / "directory-down"
    config.base_data_path.mkdir(parents=True, exist_ok=True)
    flag.touch()
    specs = [dataclasses.replace(s, unit=f"{__name__}:failing_users") if s.name == "users" else s
             for s in SERVICES]
    async with (embedded_server(config, specs=specs) as srv,
                aiohttp.ClientSession() as http):
        headers = {"Authorization": ADMIN}
        async with http.request("PROPFIND", f"{srv.url}/remote.php/webdav/", headers=headers) as resp:
            assert resp.status == 503 and int(resp.headers["Retry-After"]) >= 1
            assert "Sabre\\DAV\\Exception\\ServiceUnavailable" in await resp.text()
        async with http.get(f"{srv.url}/ocs/v2.php/cloud/user?format=json", headers=headers) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"]
            assert (await resp.json())["ocs"]["meta"]["statuscode"] == 503
        async with http.get(f"{srv.url}/graph/v1.0/me", headers=headers) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"]
            assert (await resp.json())["error"]["code"] == "serviceNotAvailable"
        async with http.get(f"{srv.url}/status.php") as resp:
            assert resp.status == 200           # what does not need the users still works
        async with http.get(f"{srv.runtime_url}/health") as resp:
            body = await resp.json()
            assert resp.status == 503 and body["status"] == "degraded"
            assert body["services"]["users"].startswith("degraded: cannot start")
        for path in ("/healthz", "/readyz"):    # alive, and it takes traffic
            async with http.get(f"{srv.runtime_url}{path}") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "degraded"
        await asyncio.sleep(1.0)                # many retries, beyond OCIS_RUNTIME_MAX_FAILURES
        assert not srv.supervisor.gave_up.is_set()
        flag.unlink()                           # the directory is back
        deadline = time.monotonic() + 10
        status = 0
        while status != 207 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            async with http.request("PROPFIND", f"{srv.url}/remote.php/webdav/",
                                    headers=headers) as resp:
                status = resp.status
        assert status == 207
        async with http.get(f"{srv.runtime_url}/health") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "healthy"


class Buggy(Outside):
    async def run(self) -> None:
        raise KeyError("our own bug")


def buggy_unit(spec: ServiceSpec, ctx: ServiceContext) -> Buggy:
    return Buggy(down_at_start=False)


async def test_a_bug_still_ends_the_process(tmp_path: Path) -> None:
    from ocis_server.runtime.instance import Runtime

    config = make_test_config(tmp_path, OCIS_RUNTIME_RESTART_BACKOFF="0.01",
                              OCIS_RUNTIME_MAX_FAILURES="2")
    spec = dataclasses.replace(SPEC, unit=f"{__name__}:buggy_unit")
    runtime = Runtime(config, specs=(spec,))
    await runtime.start()
    assert await asyncio.wait_for(runtime.wait(), 5) == 1
    assert runtime.supervisor is not None
    assert "KeyError" in runtime.supervisor.failure and "giving up" in runtime.supervisor.failure
    await runtime.stop()


def test_the_last_log_line_of_a_process_ended_by_a_bug_says_why(tmp_path: Path) -> None:
    """A real process whose users service has a bug: it exits 1, and its last line says so."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    make_test_config(tmp_path, demo_users=False)           # `ocis init` into tmp_path/config
    code = ("import ocis_server.runtime.units as units\n"
            "class Buggy(units.UsersUnit):\n"
            "    async def run(self):\n"
            "        raise KeyError('a bug of ours')\n"
            "units.UsersUnit = Buggy\n"
            "from ocis_server.runtime.main import main\n"
            "raise SystemExit(main())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCIS_", "PROXY_", "IDM_"))}
    env.update({"PYTHONPATH": str(repo), "OCIS_CONFIG_DIR": str(tmp_path / "config"),
                "OCIS_BASE_DATA_PATH": str(tmp_path / "data"), "PROXY_HTTP_ADDR": "127.0.0.1:0",
                "OCIS_RUNTIME_PORT": "0", "IDM_LDAPS_ADDR": "127.0.0.1:0",
                "OCIS_LOG_LEVEL": "info", "OCIS_RUNTIME_RESTART_BACKOFF": "0.05",
                "OCIS_RUNTIME_MAX_FAILURES": "2", "OCIS_WORKERS": "1"})   # this process's units
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=repo, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "CRITICAL" in last and "ocis exits" in last and "users failed 2 times" in last, last
    assert "KeyError" in last and "bug" in last
