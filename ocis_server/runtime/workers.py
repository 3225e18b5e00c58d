"""`ocis server` with OCIS_WORKERS > 1: a parent that runs that many worker processes, each a
whole node (every HTTP service, the storage on the same data folder, SQLite in WAL mode shared),
all listening on the one public port with SO_REUSEPORT, so that the kernel spreads the
connections over them (docs/scaling.md, Workers; docs/decisions/0019-workers.md).

The parent holds the port (bound with SO_REUSEPORT, never listening: it takes no connection,
but the port stays ours while a worker restarts, and "any free port" is resolved once), hosts
the event relay between the workers (workerbus.Hub), starts worker 0 (the primary: control API,
idm, background rounds) and, once it is ready, the others; restarts a worker that dies (backoff
doubling from OCIS_RUNTIME_RESTART_BACKOFF up to OCIS_RUNTIME_MAX_RESTART_BACKOFF); gives up (exit
1) when a worker fails OCIS_RUNTIME_MAX_FAILURES times in a row without running a minute; and
stops them all on SIGTERM or SIGINT. A worker whose parent dies gets SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ocis_server.config import Config, ConfigError, split_addr

from .lifecycle import announce
from .workerbus import Hub
from .workerrole import COUNT, HUB, INDEX, READY_FD

log = logging.getLogger("ocis.runtime")
STABLE_AFTER = 60.0      # a worker that ran this long has its failure count reset
READY_TIMEOUT = 120.0
STOP_GRACE = 10.0        # seconds beyond the proxy's shutdown timeout before SIGKILL


def worker_count(config: Config) -> int:
    """OCIS_WORKERS: 0 (the default) = one per CPU core this process may use, or one process
    where the layout cannot be shared by several (`check_layout`: said at start when asked for
    explicitly)."""
    if config.workers < 0:
        raise ConfigError(f"runtime.workers: expected 0 or more, got {config.workers}")
    if config.workers:
        return config.workers
    if config.storage_extra_mount_ids:
        log.info("one worker: STORAGE_USERS_EXTRA_MOUNT_IDS keeps upload sessions in one "
                 "process's memory")
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_layout(config: Config) -> None:
    """What several workers cannot share yet: said at start, not found out later."""
    if config.storage_extra_mount_ids:
        raise ConfigError("OCIS_WORKERS > 1 does not work with STORAGE_USERS_EXTRA_MOUNT_IDS yet "
                          "(the router keeps upload sessions in memory): use OCIS_WORKERS=1")


def reserve_port(addr: str) -> socket.socket:
    """The public address, bound with SO_REUSEPORT and not listening (see the module text)."""
    try:
        host, port = split_addr(addr)
    except ValueError as exc:
        raise ConfigError(f"invalid PROXY_HTTP_ADDR {addr!r}: {exc}") from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {addr} (PROXY_HTTP_ADDR): {exc.strerror or exc}") from None
    return sock


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.failures = 0

    async def spawn(self, env: dict[str, str]) -> bool:
        """Start the process and wait until it serves; False when it ended before."""
        read, write = os.pipe()
        env = dict(env, **{INDEX: str(self.index), READY_FD: str(write)})
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ocis_server.runtime.main", env=env, pass_fds=(write,))
        finally:
            os.close(write)
        self.started = time.monotonic()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.run_in_executor(None, os.read, read, 1)
        ready.add_done_callback(lambda _f: os.close(read))     # once the child wrote or ended
        ended: asyncio.Future[Any] = asyncio.ensure_future(self.proc.wait())
        done, _ = await asyncio.wait({ready, ended}, timeout=READY_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        return ready in done and ready.result() == b"1"


class Parent:
    def __init__(self, config: Config, count: int) -> None:
        self.config, self.count = config, count
        self.workers = [Worker(i) for i in range(count)]
        self.stopping = asyncio.Event()
        self.failure = ""

    def _env(self, addr: str, hub: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"PROXY_HTTP_ADDR": addr, COUNT: str(self.count), HUB: hub,
                    # every worker is one "process" to the events' origin (events/event.py)
                    "OCIS_EVENTS_PROCESS": os.urandom(16).hex()})
        return env

    async def run(self) -> int:
        check_layout(self.config)
        sock = reserve_port(self.config.proxy_http_addr)
        host, port = sock.getsockname()[:2]
        addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        folder = tempfile.mkdtemp(prefix="ocis-workers-")
        hub_path = str(Path(folder) / "events.sock")
        hub = Hub()
        await hub.start(hub_path)
        env = self._env(addr, hub_path)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            if not await self._first_start(env):
                return 1
            announce.info("ready: %d workers on http://%s (OCIS_WORKERS)", self.count, addr)
            watchers = [asyncio.create_task(self._watch(w, env)) for w in self.workers]
            await self.stopping.wait()
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            return 1 if self.failure else 0
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self._stop_all()
            await hub.close()
            sock.close()
            for name in os.listdir(folder):
                os.unlink(Path(folder) / name)
            os.rmdir(folder)
            if self.failure:
                log.critical("ocis exits: %s", self.failure)

    async def _first_start(self, env: dict[str, str]) -> bool:
        """Worker 0 first (it creates and migrates the databases), then the others at once."""
        if not await self.workers[0].spawn(env):
            self.failure = "worker 0 did not start"
            return False
        rest = await asyncio.gather(*(w.spawn(env) for w in self.workers[1:]))
        if not all(rest):
            self.failure = "a worker did not start"
            return False
        return True

    async def _watch(self, worker: Worker, env: dict[str, str]) -> None:
        config = self.config
        while True:
            assert worker.proc is not None
            code = await worker.proc.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - worker.started > STABLE_AFTER:
                worker.failures = 0
            worker.failures += 1
            log.error("worker %d (pid %d) exited with %s; restarting it", worker.index,
                      worker.proc.pid, code)
            if worker.failures >= max(1, config.max_failures):
                self.failure = f"worker {worker.index} failed {worker.failures} times; giving up"
                self.stopping.set()
                return
            wait = min(max(config.restart_backoff, config.max_restart_backoff),
                       config.restart_backoff * 2 ** (worker.failures - 1))
            await asyncio.sleep(wait)
            if not await worker.spawn(env) and not self.stopping.is_set():
                log.error("worker %d did not start", worker.index)

    async def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.returncode is None]
        for proc in running:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        grace = max(0.0, self.config.proxy_shutdown_timeout) + STOP_GRACE
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), grace)
        except TimeoutError:
            for proc in running:
                if proc.returncode is None:
                    log.error("worker pid %d did not stop in %.0fs: killed", proc.pid, grace)
                    proc.kill()
            await asyncio.gather(*(p.wait() for p in running))


def die_with_parent() -> None:
    """A worker gets SIGTERM when the parent goes (Linux prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)        # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
