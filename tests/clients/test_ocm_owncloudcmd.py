"""owncloudcmd 2.11 (the ownCloud desktop sync engine) syncs a remote space from paris, both
ways, with Marie's paris login only: Einstein at zurich shared /Physics with marie@paris.test
(editor), Marie accepted it at paris; the client, which knows no spaces, syncs the mount point
`/remote.php/webdav/Shares/Physics` that paris forwards to zurich. Her files land in Einstein's
folder at zurich; Einstein's changes reach her laptop; a second run changes nothing. A viewer
share: her new file is refused (zurich's 403) and nothing lands at zurich.

The two instances run in this process (their event loop serves while the client and the raw
WebDAV checks run in threads)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import CompletedProcess

import aiohttp
import pytest

from ocis_server.runtime import embedded_server

from .helpers import TREE, Dav, describe, read_tree, require_tool, run, write_tree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from test_ocm_federation import Pair, configs, federate  # noqa: E402

pytestmark = pytest.mark.slow


@asynccontextmanager
async def shared_with_marie(tmp_path: Path) -> AsyncIterator[tuple[Pair, Dav]]:
    """zurich and paris; Einstein's shares accepted by Marie; Einstein's WebDAV at zurich."""
    (tmp_path / "exclude.lst").write_text("")   # Debian's package ships no system exclude list
    (tmp_path / "home").mkdir()
    zurich_config, paris_config = configs(tmp_path / "servers")
    async with (embedded_server(zurich_config) as zurich, embedded_server(paris_config) as paris,
                aiohttp.ClientSession() as http):
        p = Pair(zurich, paris, zurich_config, http)
        await federate(tmp_path / "servers", p)
        yield p, Dav(zurich.url, "einstein", "relativity")


async def test_owncloudcmd_syncs_a_remote_space_both_ways(tmp_path: Path) -> None:
    binary = require_tool("owncloudcmd")
    exclude, home = tmp_path / "exclude.lst", tmp_path / "home"
    async with shared_with_marie(tmp_path) as (p, einstein):
        paris = p.paris

        async def sync(local: Path, folder: str) -> CompletedProcess[str]:
            return await asyncio.to_thread(run, [
                binary, "--non-interactive", "--exclude", str(exclude), "-u", "marie",
                "-p", "radioactivity", str(local),
                f"{paris.url}/remote.php/webdav/Shares/{folder}"],
                env={**os.environ, "HOME": str(home)})    # TUS on, as shipped

        # up: her tree lands in Einstein's folder at zurich, byte for byte
        laptop = tmp_path / "laptop"
        write_tree(laptop)
        first = await sync(laptop, "Physics")
        assert first.returncode == 0, describe(first)
        at_zurich = await asyncio.to_thread(einstein.walk, "/remote.php/webdav/Physics")
        assert at_zurich == dict(sorted({**TREE, "a.txt": b"E=mc2"}.items()))
        assert read_tree(laptop)["a.txt"] == b"E=mc2"           # and down: zurich's file

        # down: Einstein's edit and new file reach her laptop; a second run is a no-op
        await asyncio.to_thread(einstein.put, "/remote.php/webdav/Physics/a.txt", b"E=mc^2")
        await asyncio.to_thread(einstein.put, "/remote.php/webdav/Physics/from zurich.txt",
                                b"gruezi\n")
        second = await sync(laptop, "Physics")
        assert second.returncode == 0, describe(second)
        got = read_tree(laptop)
        assert (got["a.txt"], got["from zurich.txt"]) == (b"E=mc^2", b"gruezi\n")
        etag = (await asyncio.to_thread(einstein.etag, "/remote.php/webdav/Physics"))
        third = await sync(laptop, "Physics")
        assert third.returncode == 0, describe(third)
        assert await asyncio.to_thread(einstein.etag, "/remote.php/webdav/Physics") == etag

        # viewer: the file she adds is refused by zurich, nothing lands there
        lectures = tmp_path / "lectures"
        lectures.mkdir()
        down = await sync(lectures, "Lectures")
        assert down.returncode == 0, describe(down)
        assert read_tree(lectures) == {"l1.txt": b"E=mc2"}
        (lectures / "mine.txt").write_bytes(b"from marie\n")
        refused = await sync(lectures, "Lectures")
        assert "mine.txt" not in await asyncio.to_thread(
            einstein.walk, "/remote.php/webdav/Lectures"), describe(refused)



async def test_owncloudcmd_uploads_a_big_file_into_the_remote_space(tmp_path: Path) -> None:
    """A 25 MB file (above the 10 MB chunk size desktop clients use by default) reaches zurich
    byte for byte through paris. owncloudcmd 2.11 sends it in one TUS request here (the
    capabilities say `max_chunk_size` 0, docs/decisions/0002-uploads.md), which paris streams
    on; the upload in several requests is tests/test_ocm_remote_tus.py's."""
    binary = require_tool("owncloudcmd")
    exclude, home = tmp_path / "exclude.lst", tmp_path / "home"
    async with shared_with_marie(tmp_path) as (p, einstein):
        paris = p.paris
        laptop = tmp_path / "laptop"
        laptop.mkdir()
        big = os.urandom(25 * 1000 * 1000)
        (laptop / "big.bin").write_bytes(big)
        done = await asyncio.to_thread(run, [
            binary, "--non-interactive", "--exclude", str(exclude), "-u", "marie",
            "-p", "radioactivity", str(laptop), f"{paris.url}/remote.php/webdav/Shares/Physics"],
            env={**os.environ, "HOME": str(home)})
        assert done.returncode == 0, describe(done)
        at_zurich = await asyncio.to_thread(einstein.walk, "/remote.php/webdav/Physics")
        assert at_zurich["big.bin"] == big, describe(done)
