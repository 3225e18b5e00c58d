"""Fill one user's personal space with N small files, quickly, through the storage API itself:
the same `SqliteStorage.mkdir`/`upload` the WebDAV PUT uses (checksums, fsync, etag and tree
size propagation, metadata.db rows), many uploads at once, in this process. No row is written by
hand. Run it on the data folder of an `ocis server` that is stopped (the provider's SQLite has
one writer) and has made the user's space already (the user signed in once).

The files go into folders of --per-folder files (`fill-000000/f-000000.bin`, ...), so that a
Depth 1 listing stays the size of one folder; the count goes on from the files already there,
so running it again with a larger N adds the difference. Usage:
    .venv/bin/python scripts/fill_space.py BASE_DATA_PATH USER N [--size 1024]
        [--per-folder 1000] [--concurrency 64]
BASE_DATA_PATH is the server's OCIS_BASE_DATA_PATH; the storage id is read from the ocis.toml
in OCIS_CONFIG_DIR (default BASE_DATA_PATH/../config).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ocis_server.domain.errors import AlreadyExists, NotFound  # noqa: E402
from ocis_server.storage.sqlite import SqliteStorage  # noqa: E402


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _names(i: int, per_folder: int) -> tuple[str, str]:
    return f"fill-{i // per_folder:06d}", f"f-{i:07d}.bin"


async def _present(storage: SqliteStorage, space_id: str, per_folder: int) -> int:
    """How many fill files are there already (folders are filled in order)."""
    count = 0
    while True:
        folder, _ = _names(count, per_folder)
        try:
            node = await storage.lookup(space_id, (folder,))
        except NotFound:
            return count
        inside = await storage.count_below(node, per_folder)
        count += inside
        if inside < per_folder:
            return count


async def fill(storage: SqliteStorage, space_id: str, n: int, *, size: int = 1024,
               per_folder: int = 1000, concurrency: int = 64) -> int:
    """Upload files until the space holds n of them; how many were added."""
    start = await _present(storage, space_id, per_folder)
    for first in range(start - start % per_folder, n, per_folder):   # the folders first
        try:
            await storage.mkdir(space_id, (_names(first, per_folder)[0],))
        except AlreadyExists:
            pass
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(start, n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await storage.upload(space_id, _names(i, per_folder), _body(os.urandom(size)),
                                 length=size)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return max(0, n - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("user")
    parser.add_argument("n", type=int)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--per-folder", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    config_dir = Path(os.environ.get("OCIS_CONFIG_DIR", args.base.parent / "config"))
    config = tomllib.loads((config_dir / "ocis.toml").read_text())
    storage = await SqliteStorage.open(args.base / "storage" / "users",
                                       config["storage_users"]["mount_id"])
    try:
        spaces = [s for s in await storage.list_spaces() if s.alias == f"personal/{args.user}"]
        if not spaces:
            sys.exit(f"no personal space of {args.user}: sign in once through the server first")
        started = time.monotonic()
        added = await fill(storage, spaces[0].id, args.n, size=args.size,
                           per_folder=args.per_folder, concurrency=args.concurrency)
        took = time.monotonic() - started
        print(f"{added} files added in {took:.1f} s ({added / max(took, 1e-9):.0f}/s); "
              f"{args.n} in the space")
    finally:
        await storage.close()


if __name__ == "__main__":
    asyncio.run(main())
