"""litmus (basic copymove props locks http) against ocdav on a real socket, for the legacy,
the new and the spaces URL layouts. Every suite must pass completely."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp import web
from kit import litmus_run, ocdav_root, password_of

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _litmus_is_installed() -> None:
    litmus_run()         # a missing litmus or shared harness fails the test (decision 0000)


async def run_litmus(url: str) -> tuple[int, int, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", str(litmus_run()), url, "alice", password_of("alice"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"TESTS": "basic copymove props locks http", "PATH": "/usr/bin:/bin"})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    text = out.decode(errors="replace")
    match = re.search(r"(\d+) passed, (\d+) failed", text)
    assert match, text
    return int(match.group(1)), int(match.group(2)), text


@pytest.mark.parametrize("layout", ["webdav", "files", "spaces"])
async def test_litmus_full(tmp_path, layout):
    root, users, storage = await ocdav_root(tmp_path)
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]   # type: ignore[union-attr]
        alice = users["alice"]
        path = {"webdav": "/remote.php/webdav/",
                "files": f"/remote.php/dav/files/{alice.id}/",
                "spaces": f"/remote.php/dav/spaces/{storage.storage_id}${alice.id}/"}[layout]
        passed, failed, text = await run_litmus(f"http://127.0.0.1:{port}{path}")
        assert failed == 0 and passed >= 104, text
        assert "WARNING" not in text, text       # wsgidav, the peer, has no warnings either
    finally:
        await runner.cleanup()
