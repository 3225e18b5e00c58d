"""Marie at paris, through the real CLI: a share einstein@zurich.test sent her shows among her
shares with me (`ocis share ls --with-me --pending`, owner `einstein@zurich.test`, type
federated); `ocis share accept ID` accepts it like a local one; `ocis spaces ls` then lists the
remote space (type federated, owner `einstein@zurich.test`, her role) and `ocis ls` / `get`
reach into it through paris. While zurich is down the space is listed "(unreachable)"."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import aiohttp
import pytest
from test_cli import Story
from test_ocm_federation import Pair, configs, einstein_shares

from ocis_server.runtime import embedded_server
from ocm_peers import introduce


def marie(url: str, root: Path) -> Story:
    story = Story({k: v for k, v in os.environ.items() if not k.startswith("OCIS_")},
                  root / "marie")
    story.workdir.mkdir(parents=True)
    story.env["XDG_CACHE_HOME"] = str(story.workdir / "cache")
    story.login(url, "marie", "radioactivity")
    return story


@pytest.mark.slow
async def test_marie_accepts_and_lists_a_federated_share(tmp_path: Path) -> None:
    zurich_config, paris_config = configs(tmp_path / "servers")
    async with embedded_server(paris_config) as paris, aiohttp.ClientSession() as http:
        async with embedded_server(zurich_config) as zurich:
            introduce(tmp_path / "servers", zurich, paris)
            await einstein_shares(Pair(zurich, paris, zurich_config, http))
            cli = await asyncio.to_thread(marie, paris.url, tmp_path)

            async def run(*args: str) -> str:
                return (await asyncio.to_thread(cli.run, *args)).stdout.decode()

            pending = json.loads(await run("share", "ls", "--pending", "-o", "json"))
            assert sorted((s["path"], s["type"], s["owner"], s["state"]) for s in pending) == [
                ("/Shares/Lectures", "federated", "einstein@zurich.test", "pending"),
                ("/Shares/Physics", "federated", "einstein@zurich.test", "pending")]
            table = await run("share", "ls", "--with-me", "--pending")
            assert "einstein@zurich.test" in table and "Physics" in table
            physics = next(s for s in pending if s["path"] == "/Shares/Physics")
            await run("share", "accept", physics["id"])
            assert [s["path"] for s in json.loads(
                await run("share", "ls", "--pending", "-o", "json"))] == ["/Shares/Lectures"]

            rows = {line.split("\t")[0]: line.split("\t")
                    for line in (await run("spaces", "ls")).splitlines()}
            assert rows["Physics"][1:4] == ["federated", "einstein@zurich.test", "editor"]
            assert "Lectures" not in rows
            assert (await run("ls", "Physics:/")).split() == ["a.txt"]
            assert (await run("get", "Physics:/a.txt", "-")) == "E=mc2"
        await asyncio.sleep(5.1)                     # zurich is down; the last answer expires
        rows = {line.split("\t")[0]: line.split("\t")
                for line in (await run("spaces", "ls")).splitlines()}
        assert rows["Physics"][1] == "federated (unreachable)"
