"""OCM discovery, both sides: the document this server publishes at `/.well-known/ocm` and
`/ocm-provider` (OCM API `Discovery`; oCIS acceptance `apiOcm/ocmEndpoint.feature`; reva
`internal/http/services/wellknown/ocm.go`), and the fetch and validation of a peer's document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from aiohttp import web

from .client import OcmClient, PeerError
from .config import CONFIG_KEY, OcmConfig
from .providers import Provider

API_VERSION = "1.1.0"
PROVIDER_NAME = "oCIS"                  # the `provider` oCIS publishes (acceptance test: const)
WEBDAV_ROOT = "/dav/ocm"                # oCIS: reva joins "/dav/ocm" with filepath.Join, so no
                                        # trailing slash (acceptance test: const "/dav/ocm")
SHARE_TYPES = ("user",)
RESOURCE_TYPES = ("file",)
_VERSION = re.compile(r"v?1(\.\d+){0,2}")
CAPABILITIES_KEY = web.AppKey("ocm_capabilities", tuple)


def document(config: OcmConfig, capabilities: tuple[str, ...], user_agent: str = "") -> dict[str, Any]:
    """This server's discovery document. `capabilities` are the optional OCM endpoints the app
    really routes (`/invite-accepted`, `/notifications`, ...): none is claimed that is not served."""
    return {
        "enabled": True,
        # Nextcloud accepts only "1.0"/"1.1", not any 1.x (reva wellknown/ocm.go does the same).
        "apiVersion": "1.1" if user_agent == "Nextcloud Server Crawler" else API_VERSION,
        "endPoint": f"{config.public_url}/ocm",
        "provider": PROVIDER_NAME,
        "resourceTypes": [{"name": name, "shareTypes": list(SHARE_TYPES),
                           "protocols": {"webdav": WEBDAV_ROOT}} for name in RESOURCE_TYPES],
        "capabilities": list(capabilities),
    }


async def discovery(request: web.Request) -> web.Response:
    """GET /.well-known/ocm and /ocm-provider (no authentication)."""
    body = document(request.app[CONFIG_KEY], request.app[CAPABILITIES_KEY],
                    request.headers.get("User-Agent", ""))
    return web.json_response(body, headers={"Access-Control-Allow-Origin": "*"})


@dataclass(frozen=True, slots=True)
class Discovery:
    """A peer's validated discovery document."""

    provider: Provider
    api_version: str
    endpoint: str                # its OCM API base, on a listed origin
    webdav_root: str             # absolute URL prefix of its OCM WebDAV, on a listed origin
    share_types: tuple[str, ...]
    capabilities: tuple[str, ...]
    name: str


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _file_webdav(data: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    types = data.get("resourceTypes")
    for entry in types if isinstance(types, list) else []:
        if isinstance(entry, dict) and entry.get("name") == "file":
            protocols = entry.get("protocols")
            webdav = protocols.get("webdav") if isinstance(protocols, dict) else None
            if isinstance(webdav, str) and webdav:
                return webdav, _strings(entry.get("shareTypes"))
    raise PeerError("its discovery offers no resource type 'file' with protocol 'webdav'")


def parse_discovery(data: object, provider: Provider) -> Discovery:
    """Validate a peer's document: OCM enabled, API version 1.x, an `endPoint` and WebDAV root on
    an origin the providers file lists for this provider (a document naming another host is
    refused: it would make us contact an address nobody listed)."""
    where = f"{provider.domain}: "
    try:
        if not isinstance(data, dict):
            raise PeerError("its discovery document is not a JSON object")
        if data.get("enabled") is not True:
            raise PeerError("OCM is not enabled there")
        version = data.get("apiVersion")
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            raise PeerError(f"unsupported OCM apiVersion {str(version)[:40]!r} (1.x expected)")
        endpoint = data.get("endPoint")
        if not isinstance(endpoint, str) or not provider.owns(endpoint):
            raise PeerError("its endPoint is not an OCM endpoint listed for it in the providers file")
        webdav, share_types = _file_webdav(data)
        webdav_root = urljoin(endpoint, webdav)
        if not provider.owns(webdav_root):
            raise PeerError("its WebDAV root is not on an origin listed for it in the providers file")
    except PeerError as exc:
        raise PeerError(where + exc.message) from None
    name = data.get("provider")
    return Discovery(provider=provider, api_version=version, endpoint=endpoint.rstrip("/"),
                     webdav_root=webdav_root, share_types=share_types,
                     capabilities=_strings(data.get("capabilities")),
                     name=name[:200] if isinstance(name, str) else "")


async def discover(client: OcmClient, provider: Provider) -> Discovery:
    """Fetch and validate `provider`'s discovery: `/.well-known/ocm`, else the legacy
    `/ocm-provider` when the first is 404 (both on the listed OCM origin)."""
    response = await client.request(provider, "GET", f"{provider.base_url}/.well-known/ocm")
    if response.status == 404:
        response = await client.request(provider, "GET", f"{provider.base_url}/ocm-provider")
    if response.status != 200:
        raise PeerError(f"{provider.domain}: discovery answered {response.status}")
    return parse_discovery(response.json(), provider)
