"""`ocis` with a thread that reports what the process holds (issue 18, memory).

Run the server as `python scripts/memory/inside.py server` (PYTHONPATH = the repository, MEMDIR =
a folder), then `touch $MEMDIR/req-<name>`: the thread writes `$MEMDIR/dump-<name>.txt` (VmRSS, the
most frequent object types; with MEMTRACE=1 tracemalloc's top lines and the difference to the dump
before) and `$MEMDIR/pymalloc-<name>.txt` (`sys._debugmallocstats()` and glibc's
`malloc_stats()`), then removes the request file. With MEMHITS=1 the dump starts with the hits
and misses of the storage's read cache (`SqliteStorage._cached`) and of the Depth 0 answer cache
(`PollCache.get`) since start. A measuring aid, not for production: MEMTRACE=1
slows the server and inflates its memory.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import io
import os
import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path

MEMDIR = Path(os.environ.get("MEMDIR", "/tmp/ocis-memory"))
TRACE = os.environ.get("MEMTRACE") == "1"
REPO = str(Path(__file__).resolve().parents[2]) + "/"
_previous: list[tracemalloc.Snapshot] = []
HITS = {"read_hit": 0, "read_miss": 0, "poll_hit": 0, "poll_miss": 0}


def count_hits() -> None:
    """Wrap the read cache and the Depth 0 answer cache with counters (HITS)."""
    from typing import Any

    from ocis_server.services.ocdav import config as ocdav_config
    from ocis_server.storage import sqlite

    cached = sqlite.SqliteStorage._cached

    async def counted(self: Any, key: Any, fn: Any, weight: Any = None) -> Any:
        writer = self._writer
        hit = writer is not None and writer.generation == self._cache_gen and key in self._cache
        HITS["read_hit" if hit else "read_miss"] += 1
        return await cached(self, key, fn, weight)

    poll_get = ocdav_config.PollCache.get

    def counted_get(self: Any, stamp: Any, key: Any) -> Any:
        found = poll_get(self, stamp, key)
        HITS["poll_hit" if found is not None else "poll_miss"] += 1
        return found

    sqlite.SqliteStorage._cached = counted  # type: ignore[method-assign]
    ocdav_config.PollCache.get = counted_get  # type: ignore[method-assign]


def _where(stat: tracemalloc.Statistic | tracemalloc.StatisticDiff) -> str:
    frame = stat.traceback[0]
    return f"{frame.filename.replace(REPO, '')}:{frame.lineno}"


def _traced(out: io.StringIO) -> None:
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])
    total = sum(s.size for s in snap.statistics("filename"))
    print(f"tracemalloc total {total / 2**20:.1f} MiB", file=out)
    for stat in snap.statistics("lineno")[:40]:
        print(f"  {stat.size / 1024:>9.0f} KiB {stat.count:>7} {_where(stat)}", file=out)
    if _previous:
        print("diff vs previous:", file=out)
        for diff in snap.compare_to(_previous[0], "lineno")[:25]:
            print(f"  {diff.size_diff / 1024:>+9.0f} KiB {diff.count_diff:>+7} {_where(diff)}",
                  file=out)
    _previous[:] = [snap]


def dump(name: str) -> None:
    out = io.StringIO()
    status = {k: v.strip() for k, _, v in (line.partition(":") for line in
              Path("/proc/self/status").read_text().splitlines())
              if k in ("VmRSS", "VmHWM", "RssAnon")}
    print(f"== {name} {status}", file=out)
    if os.environ.get("MEMHITS") == "1":
        print("hits:", HITS, file=out)
    counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    print("gc objects:", sum(counts.values()), file=out)
    for kind, n in counts.most_common(25):
        print(f"  {n:>8} {kind}", file=out)
    print("sys.getallocatedblocks:", sys.getallocatedblocks(), file=out)
    if TRACE:
        _traced(out)
    # both statistics print to the C stderr: point fd 2 at the file meanwhile
    fd = os.open(MEMDIR / f"pymalloc-{name}.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    saved = os.dup(2)
    sys.stderr.flush()
    os.dup2(fd, 2)
    try:
        sys._debugmallocstats()
        ctypes.CDLL("libc.so.6").malloc_stats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    (MEMDIR / f"dump-{name}.txt").write_text(out.getvalue())


def watch() -> None:
    while True:
        for request in sorted(MEMDIR.glob("req-*")):
            name = request.name[4:]
            try:
                dump(name)
            except Exception as exc:  # noqa: BLE001  (report it in place of the dump)
                (MEMDIR / f"dump-{name}.txt").write_text(f"error {exc!r}")
            request.unlink()
        time.sleep(0.1)


if __name__ == "__main__":
    if TRACE:
        tracemalloc.start(int(os.environ.get("MEMFRAMES", "1")))
    if os.environ.get("MEMHITS") == "1":
        count_hits()
    MEMDIR.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=watch, daemon=True).start()
    sys.argv = ["ocis", *sys.argv[1:]]
    runpy.run_module("ocis_cli", run_name="__main__")
