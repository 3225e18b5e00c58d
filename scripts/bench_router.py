"""What a `StorageRouter` adds per storage call: the same reads against one `SqliteStorage`
directly and through a router over two of them (both in this process, SQLite registry).

Times N rounds of the reads a PROPFIND Depth 0 and a GET make (`space_info`, `lookup`), one by a
bare node id (`get_node`, answered from the router's node cache after the first) and a listing
that fans out (`list_spaces` of a member). Prints microseconds per call. Usage:
    .venv/bin/python scripts/bench_router.py [N]      (default 20000)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from ocis_server.storage.router import SqliteSpaceRegistry, StorageRouter
from ocis_server.storage.sqlite import SqliteStorage


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _per_call(n: int, call: Callable[[], Awaitable[Any]]) -> float:
    await call()
    started = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - started) / n * 1e6


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a = await SqliteStorage.open(root / "a", "mount-a")
        b = await SqliteStorage.open(root / "b", "mount-b")
        router = await StorageRouter.open([("mount-a", a), ("mount-b", b)],
                                          await SqliteSpaceRegistry.open(root / "registry.db"))
        space = await router.create_space(space_type="personal", name="u", owner_id="u-1",
                                          alias="personal/u", space_id="u-1")
        await router.create_space(space_type="personal", name="v", owner_id="u-2",
                                  alias="personal/v", space_id="u-2")
        await router.upload(space.id, ("f.txt",), _body(b"hello"), length=5)
        direct = a if space.storage_id == "mount-a" else b
        node = await direct.lookup(space.id, ("f.txt",))
        print(f"{n} calls each, microseconds per call (direct -> through the router):")
        for name, make in (
                ("space_info", lambda s: lambda: s.space_info(space.id)),
                ("lookup", lambda s: lambda: s.lookup(space.id, ("f.txt",))),
                ("get_node", lambda s: lambda: s.get_node(node.id)),
                ("list_spaces(member)", lambda s: lambda: s.list_spaces(member_id="u-1"))):
            plain = await _per_call(n, make(direct))
            routed = await _per_call(n, make(router))
            print(f"  {name:20} {plain:7.1f} -> {routed:7.1f}  (+{routed - plain:.1f})")
        await router.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
