"""status.php / status: the unauthenticated server status document clients probe first."""

from __future__ import annotations

from aiohttp import web

from ocis_server import LEGACY_VERSION, PRODUCT_VERSION


def status_document() -> dict[str, object]:
    """The fields oCIS' ocdav status.go returns; `version` is the legacy 4-digit one."""
    return {
        "installed": True,
        "maintenance": False,
        "needsDbUpgrade": False,
        "version": LEGACY_VERSION,
        "versionstring": LEGACY_VERSION.rsplit(".", 1)[0],
        "edition": "Community",
        "productname": "Infinite Scale",
        "product": "Infinite Scale",
        "productversion": PRODUCT_VERSION,
    }


async def handle_status(request: web.Request) -> web.StreamResponse:
    return web.json_response(status_document())
