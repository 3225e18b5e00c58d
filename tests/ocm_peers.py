"""Helpers for the OCM tests: a providers file in oCIS's ocmproviders.json format naming instances
by domain and base URL; two real instances that federate with each other, "zurich" and "paris" on
loopback (in this process, or as `ocis server` subprocesses), each with its demo users and a
providers file naming the other (plain http allowed to loopback for invitations, shares and
storage, as OCM_OCM_*_INSECURE does in oCIS); and a stand-in remote OCM server on loopback that
tests make hostile."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from ocis_server.config import Config
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

PASSWORDS = {"einstein": "relativity", "marie": "radioactivity", "richard": "superfluidity",
             "moss": "vista", "admin": "admin"}


class Served(Protocol):
    @property
    def url(self) -> str: ...


def provider_entry(domain: str, base_url: str) -> dict[str, object]:
    """One provider as oCIS's README writes it (services/ocm/README.md), at `base_url`."""
    base = base_url.rstrip("/")
    return {
        "name": f"{domain} test", "full_name": f"{domain} test provider", "organization": "tests",
        "domain": domain, "homepage": base, "description": f"{domain} cloud storage",
        "services": [
            {"endpoint": {"type": {"name": "OCM", "description": f"{domain} Open Cloud Mesh API"},
                          "name": f"{domain} - OCM API", "path": f"{base}/ocm/",
                          "is_monitored": True},
             "api_version": "0.0.1", "host": base},
            {"endpoint": {"type": {"name": "Webdav", "description": f"{domain} Webdav API"},
                          "name": f"{domain} - Webdav API", "path": f"{base}/dav/",
                          "is_monitored": True},
             "api_version": "0.0.1", "host": base + "/"},
        ],
    }


def write_providers(path: Path, peers: dict[str, str]) -> Path:
    """Write `{domain: base URL}` as an ocmproviders.json file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([provider_entry(d, u) for d, u in peers.items()], indent=2))
    return path


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on a free loopback port; yield its base URL."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = site._server.sockets if site._server else []   # noqa: SLF001 (the bound port)
    port = sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def counting_app(hits: list[str]) -> web.Application:
    """A bystander: records every request it gets (none may arrive) and answers 200."""
    async def any_request(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path_qs}")
        return web.json_response({"enabled": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_request)
    return app


def providers_file(root: Path, name: str) -> Path:
    """The providers file of instance `name` (zurich, paris) set up under `root`."""
    return root / name / "ocmproviders.json"


def peer_env(root: Path, name: str, **env: str) -> dict[str, str]:
    """The OCM settings of `name`.test under `root`: OCM on, its domain and providers file,
    plain http to its loopback peer allowed, a 5 s client timeout; `env` adds or overrides."""
    return {"OCIS_ENABLE_OCM": "true", "OCM_DOMAIN": f"{name}.test",
            "OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE": str(providers_file(root, name)),
            "OCM_OCM_INVITE_MANAGER_INSECURE": "true", "OCM_OCM_SHARE_PROVIDER_INSECURE": "true",
            "OCM_OCM_STORAGE_PROVIDER_INSECURE": "true", "OCM_CLIENT_TIMEOUT": "5", **env}


def peer_config(root: Path, name: str, **env: str) -> Config:
    """The config of an in-process `name`.test in `root / name` (see `peer_env`)."""
    return make_test_config(root / name, **peer_env(root, name, **env))


def introduce(root: Path, zurich: Served, paris: Served) -> None:
    """Each of the two instances set up under `root` lists the other at its running URL."""
    write_providers(providers_file(root, "zurich"), {"paris.test": paris.url})
    write_providers(providers_file(root, "paris"), {"zurich.test": zurich.url})


@asynccontextmanager
async def zurich_and_paris(root: Path, zurich_env: dict[str, str] | None = None,
                           paris_env: dict[str, str] | None = None, **env: str) -> AsyncIterator[
        tuple[EmbeddedServer, EmbeddedServer]]:
    """zurich.test and paris.test in this process, trusting each other; `env` applies to both,
    `zurich_env` and `paris_env` to one."""
    async with (embedded_server(peer_config(root, "zurich", **{**env, **(zurich_env or {})}))
                as zurich,
                embedded_server(peer_config(root, "paris", **{**env, **(paris_env or {})}))
                as paris):
        introduce(root, zurich, paris)
        yield zurich, paris


@asynccontextmanager
async def zurich_trusting_paris(root: Path, **paris_env: str) -> AsyncIterator[
        tuple[EmbeddedServer, EmbeddedServer]]:
    """The OpenID path: zurich trusts paris's IdP (OCIS_OIDC_TRUSTED_ISSUERS, accounts made on
    first sight), each listing the other, no invitation needed; `paris_env` applies to paris."""
    async with embedded_server(peer_config(root, "paris", OCM_REQUIRE_INVITE="false",
                                           **paris_env)) as paris:
        zurich_config = peer_config(root, "zurich", OCM_REQUIRE_INVITE="false",
                                    OCIS_OIDC_TRUSTED_ISSUERS=paris.url,
                                    PROXY_AUTOPROVISION_ACCOUNTS="true")
        async with embedded_server(zurich_config) as zurich:
            introduce(root, zurich, paris)
            yield zurich, paris


@contextmanager
def real_zurich_and_paris(root: Path, factory: Callable[..., AbstractContextManager[Any]],
                          **env: str) -> Iterator[tuple[Any, Any]]:
    """zurich.test and paris.test as `ocis server` processes (tests/conftest.py's
    `real_server_factory`), in `root / name`, listing each other; `env` applies to both."""
    with ExitStack() as stack:
        zurich = stack.enter_context(factory(root / "zurich", peer_env(root, "zurich", **env)))
        paris = stack.enter_context(factory(root / "paris", peer_env(root, "paris", **env)))
        introduce(root, zurich, paris)
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
