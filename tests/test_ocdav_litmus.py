"""litmus (basic copymove props locks http) against ocdav on a real socket, for the legacy,
the new and the spaces URL layouts. Every suite must pass completely."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from test_ocdav import build_root_app

LITMUS_RUN = Path("/work/shared/tools/litmus_run.sh")

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _litmus_is_installed() -> None:
    # A missing tool fails loudly: `make test` installs litmus and CI has ../shared beside the repo.
    assert shutil.which("litmus") is not None, "litmus is missing: run scripts/install-test-tools.sh"
    assert LITMUS_RUN.exists(), f"{LITMUS_RUN} is missing (the team's shared/ beside the repo)"


async def run_litmus(url: str) -> tuple[int, int, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", str(LITMUS_RUN), url, "alice", "secret",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"TESTS": "basic copymove props locks http", "PATH": "/usr/bin:/bin"})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    text = out.decode(errors="replace")
    match = re.search(r"(\d+) passed, (\d+) failed", text)
    assert match, text
    return int(match.group(1)), int(match.group(2)), text


@pytest.mark.parametrize("layout", ["webdav", "files", "spaces"])
async def test_litmus_full(tmp_path, layout):
    root, users, storage = await build_root_app(tmp_path)
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
