"""`ocis server` / `ocis <service> server`: run the runtime in the foreground until SIGINT/SIGTERM.

Exit status: 0 after a graceful stop, 1 when a service failed too often because of a bug, or the
start failed. An outside failure (disk, LDAP, descriptors) never ends the process: the service is
degraded and recovers by itself. When the process does end on a failure, the last log line says why.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

from ocis_server.config import Config, ConfigError, load_config

from .connections import raise_descriptor_limit
from .instance import Runtime
from .lifecycle import announce, setup_announce
from .supervisor import GaveUp
from .workerrole import WorkerRole

log = logging.getLogger("ocis.runtime")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL,
           "panic": logging.CRITICAL}


def setup_logging(level: str) -> None:
    """Log to stderr at OCIS_LOG_LEVEL (oCIS names: debug, info, warn, error, fatal, panic)."""
    logging.basicConfig(level=_LEVELS.get(level.lower(), logging.ERROR), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    setup_announce(sys.stderr)


async def _serve(config: Config, only: Sequence[str] | None) -> int:
    runtime = Runtime(config, only=only)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    try:
        try:
            await runtime.start()
        except GaveUp as exc:            # Runtime.start has stopped what it started
            log.critical("ocis exits: %s. This is a bug in ocis: please report it with this log", exc)
            return 1
        if runtime.role is not None:
            runtime.role.ready()
        code = await runtime.wait()
        t0 = time.monotonic()
        await runtime.stop()
        if code and runtime.supervisor is not None:      # the one line on this shutdown
            log.critical("ocis exits: %s. This is a bug in ocis: please report it with this log",
                         runtime.supervisor.failure)
        elif not code:
            announce.info("stopped (signal) in %.1fs", time.monotonic() - t0)
        return code
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop OCIS_EVENT_LOOP asks for: `uvloop` (the default; libuv-based, less
    per-request overhead) or `asyncio`. Without the uvloop package it falls back to asyncio."""
    choice = name.strip().lower() or "uvloop"
    if choice not in ("uvloop", "asyncio"):
        raise ConfigError(f"runtime.event_loop: expected uvloop or asyncio, got {name!r}")
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: running on the asyncio event loop")
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8   # glibc <malloc.h>
_MMAP_AT = 4 << 20    # allocations from this size get their own mapping, returned when freed
_TRIM_AT = 32 << 20   # free memory at the heap's top is given back beyond this


def tune_malloc(arenas: int = 2) -> None:
    """Set glibc's malloc up for a long-running server, before the worker threads start.

    - At most `arenas` arenas: glibc gives each new thread its own (up to 8 per core), and our
      storage, hashing and IdP threads then each keep freed memory of their own, so peak RSS
      grows with the thread count, not with the work.
    - Fixed mmap and trim thresholds. By default glibc raises its mmap threshold to the size of
      the largest mapping freed so far (up to 32 MiB), after which large, short-lived buffers
      (a big PROPFIND's text, a request body) come from the heap and their pages stay: measured
      here, a fixed 4 MiB threshold lowers the peak of a benchmark run by 12-14 MiB. The trim
      threshold stays high so that the 1 MiB blocks of an upload are reused, not returned and
      faulted in again for each block.

    An operator's MALLOC_ARENA_MAX (or any GLIBC_TUNABLES) wins; elsewhere than glibc this
    does nothing."""
    if not sys.platform.startswith("linux") or "GLIBC_TUNABLES" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_AT)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_AT)
    except (OSError, AttributeError):
        return


def run_server(config: Config, only: list[str] | None = None) -> int:
    """Run until stopped; blocking. `only` runs just these services (`ocis <svc> server`)."""
    setup_logging(config.log_level)
    tune_malloc()
    before, after = raise_descriptor_limit()
    if after != before:
        log.info("file descriptors: soft limit raised from %d to %d (the hard limit)", before, after)
    else:
        log.info("file descriptors: limit %d", after)
    try:
        config.require_initialized()
        role = WorkerRole.from_env()
        if role is None and only is None and config.workers != 1:
            from .workers import Parent, worker_count

            count = worker_count(config)
            if count > 1:
                with asyncio.Runner(loop_factory=loop_factory(config.event_loop)) as runner:
                    return runner.run(Parent(config, count).run())
        if role is not None:
            from .workers import die_with_parent

            die_with_parent()
        with asyncio.Runner(loop_factory=loop_factory(config.event_loop)) as runner:
            return runner.run(_serve(config, only))
    except ConfigError as exc:
        print(f"ocis: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:
        log.error("unexpected error", exc_info=True)
        log.critical("ocis exits: %s: %s. This is a bug in ocis: please report it with this log",
                     type(exc).__name__, exc)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point without the CLI: `python -m ocis_server.runtime.main [service ...]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"ocis: {exc.message}", file=sys.stderr)
        return 1
    return run_server(config, only=args or None)


if __name__ == "__main__":
    raise SystemExit(main())
