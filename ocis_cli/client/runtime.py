"""The runtime control API on loopback (OCIS_RUNTIME_HOST:OCIS_RUNTIME_PORT, 127.0.0.1:9250)."""

from __future__ import annotations

import json
from typing import Any, Self

from ocis_cli.client.errors import ServerError
from ocis_cli.client.http import HttpClient
from ocis_cli.client.models import Health, ServiceState


class RuntimeClient:
    def __init__(self, host: str = "127.0.0.1", port: int = 9250, *, timeout: float = 5.0) -> None:
        self.http = HttpClient(f"http://{host}:{port}/", timeout=timeout)

    async def __aenter__(self) -> Self:
        await self.http.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.__aexit__(*exc)

    async def services(self) -> list[ServiceState]:
        doc = await self.http.json("GET", "/services")
        if not isinstance(doc, list):
            raise ServerError("runtime: GET /services: expected a JSON list")
        return [ServiceState.from_json(item) for item in doc if isinstance(item, dict)]

    async def instance(self) -> dict[str, Any] | None:
        """Which instance answers (public URL, config dir, ...); None from a runtime that does not
        say."""
        status, _, body = await self.http.request("GET", "/instance", ok=(404,))
        try:
            doc = json.loads(body) if status == 200 else None
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    async def health(self) -> Health:
        """200 means healthy, 503 degraded (the body's status says so) or unhealthy; the body's
        JSON (if any) is passed through."""
        status, _, body = await self.http.request("GET", "/health", ok=(503,))
        try:
            detail = json.loads(body) if body.strip() else None
        except ValueError:
            detail = body.decode("utf-8", "replace")
        degraded = status == 503 and isinstance(detail, dict) and detail.get("status") == "degraded"
        return Health(healthy=status == 200, status=status, detail=detail, degraded=degraded)
