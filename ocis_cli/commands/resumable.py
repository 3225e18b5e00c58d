"""`ocis put` over TUS: resumable across runs (state under user_state_dir("ocis")/uploads), with the
server's final SHA1 checked against the local file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from ocis_cli.output import err, human_size

if TYPE_CHECKING:
    from ocis_cli.client import Client, Drive
    from ocis_cli.contexts import Context
    from ocis_cli.remotepath import RemotePath

# progress_bar(total, label): yields a callback advancing the bar by n bytes, or None (no TTY).
Bar = Callable[[int, str], AbstractContextManager[Callable[[int], None] | None]]


def resume_key(context: Context, local: Path, space_id: str, path: str) -> tuple[str, ...]:
    """What identifies one upload across runs: who, to which server, which file, where to."""
    return (context.name, context.url, context.user, str(local.resolve()), f"{space_id}:{path}")


async def put_over_tus(client: Client, context: Context, drive: Drive, rp: RemotePath,
                       local: Path, *, fresh: bool, chunk_size: int | None,
                       progress_bar: Bar) -> int:
    """Upload `local` to `rp` over TUS, resuming a saved upload; returns the bytes sent this run.

    Raises IntegrityError when the server's SHA1 of the result is not the local file's."""
    from ocis_cli.client import IntegrityError
    from ocis_cli.client.tus import ResumeStore
    from ocis_cli.client.webdav import checksum_from_header, sha1_of_file

    stat = local.stat()
    size, mtime = stat.st_size, int(stat.st_mtime)
    store = ResumeStore()
    key = resume_key(context, local, drive.id, rp.path)
    if fresh:
        store.delete(key)
    saved = store.load(key)
    remote = f"{drive.id}:{rp.path}"
    if saved is not None and saved.matches(local, size, mtime, remote):
        sha1 = saved.sha1                       # unchanged file: no need to hash it again
    else:
        sha1 = await asyncio.to_thread(sha1_of_file, local)

    def resumed(offset: int, total: int) -> None:
        err(f"resuming at {human_size(offset)} of {human_size(total)} "
            f"({offset} of {total} bytes)")

    with progress_bar(size, local.name) as advance:
        result = await client.tus.upload(
            drive.id, rp.path, local, sha1=sha1, mtime=mtime, chunk_size=chunk_size,
            progress=_absolute(advance), store=store, key=key, fresh=fresh, on_resume=resumed)
    found = await client.webdav.stat(drive.id, rp.path)
    server_sha1 = checksum_from_header(found.checksums)
    if server_sha1 != sha1:
        raise IntegrityError(f"{rp}: the server's SHA1 ({server_sha1 or 'none'}) is not the local "
                             f"file's ({sha1}) after the upload")
    if result.resumed_from:
        err(f"resumed: sent {result.sent} of {size} bytes")
    return result.sent


def _absolute(advance: Callable[[int], None] | None) -> Callable[[int], None] | None:
    """Turn the SDK's absolute byte positions into the bar's increments."""
    if advance is None:
        return None
    seen = 0

    def update(position: int) -> None:
        nonlocal seen
        if position != seen:
            advance(position - seen)
            seen = position

    return update
