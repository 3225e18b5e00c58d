"""Helpers for the OCM tests: a providers file in oCIS's ocmproviders.json format naming instances
by domain and base URL, and a stand-in remote OCM server on loopback that tests make hostile."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web


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
