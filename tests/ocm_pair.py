"""Two real instances that federate with each other: "zurich" and "paris" on loopback, each with
its demo users and a providers file naming the other (plain http allowed to loopback for
invitations, shares and storage, as OCM_OCM_*_INSECURE does in oCIS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocm_peers import write_providers

PASSWORDS = {"einstein": "relativity", "marie": "radioactivity", "richard": "superfluidity",
             "moss": "vista", "admin": "admin"}


@asynccontextmanager
async def zurich_and_paris(tmp_path: Path, zurich_env: dict[str, str] | None = None,
                           paris_env: dict[str, str] | None = None, **env: str) -> AsyncIterator[
        tuple[EmbeddedServer, EmbeddedServer]]:
    """zurich.test and paris.test, trusting each other; `env` applies to both, `zurich_env` and
    `paris_env` to one."""
    own = {"zurich": zurich_env or {}, "paris": paris_env or {}}
    files = {name: tmp_path / name / "ocmproviders.json" for name in ("zurich", "paris")}

    def config(name: str) -> Any:
        return make_test_config(
            tmp_path / name, OCIS_ENABLE_OCM="true", OCM_DOMAIN=f"{name}.test",
            OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(files[name]),
            OCM_OCM_INVITE_MANAGER_INSECURE="true", OCM_OCM_SHARE_PROVIDER_INSECURE="true",
            OCM_OCM_STORAGE_PROVIDER_INSECURE="true", OCM_CLIENT_TIMEOUT="5",
            **{**env, **own[name]})

    async with (embedded_server(config("zurich")) as zurich,
                embedded_server(config("paris")) as paris):
        write_providers(files["zurich"], {"paris.test": paris.url})
        write_providers(files["paris"], {"zurich.test": zurich.url})
        yield zurich, paris


async def call(server: EmbeddedServer, method: str, path: str, user: str | None = None,
               **kwargs: Any) -> tuple[int, Any]:
    """One request as `user` (Basic auth; None: anonymous): (status, JSON body or text)."""
    auth = aiohttp.BasicAuth(user, PASSWORDS[user]) if user else None
    async with aiohttp.ClientSession() as session, session.request(
            method, server.url + path, auth=auth, **kwargs) as resp:
        text = await resp.text()
        try:
            return resp.status, await resp.json(content_type=None) if text.strip() else None
        except ValueError:
            return resp.status, text
