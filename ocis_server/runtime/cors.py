"""Cross-origin requests, as oCIS's services answer them (rs/cors behind each service there; here one
policy in the proxy, OCIS_CORS_ALLOW_*).

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the proxy
  before authentication: 204 with `Vary`, and for a listed origin asking for an allowed method and
  allowed headers the `Access-Control-Allow-*` headers (rs/cors: otherwise none of them).
- Every other answer to a listed origin (401s, errors and streamed downloads included) carries
  `Access-Control-Allow-Origin`, `-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers` and
  `Vary: Origin`; an origin not listed gets no CORS header from the proxy.

The per-answer headers are added by the root application's `on_response_prepare` signal, the only
point every response (also one a handler prepared itself to stream) passes before its headers are
sent. Without an `Origin` header that costs one header lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.config import Config

# What oCIS's services expose (reva's ocdav and tus handlers, the OCS/WebDAV list of oCIS's CORS
# acceptance feature): a script reads etags, ids, checksums, TUS state and locations.
EXPOSE = ", ".join((
    "Content-Location", "DAV", "ETag", "Link", "Lock-Token", "OC-ETag", "OC-Checksum", "OC-FileId",
    "OC-JobStatus-Location", "OC-RequestAppPassword", "OC-Perm", "Vary", "Webdav-Location",
    "X-Sabre-Status", "Location", "Content-Disposition", "Content-Range", "Content-Length",
    "Last-Modified", "Accept-Ranges", "Tus-Resumable", "Tus-Version", "Tus-Extension",
    "Tus-Max-Size", "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length", "Upload-Expires",
    "Upload-Metadata", "X-Request-Id"))
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, as a browser sends it in `Origin`."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


class CorsPolicy:
    def __init__(self, origins: Iterable[str], methods: Iterable[str], headers: Iterable[str],
                 credentials: bool) -> None:
        listed = [o.strip().rstrip("/").lower() for o in origins if o.strip()]
        self.any = "*" in listed
        self.exact = frozenset(o for o in listed if "*" not in o)
        self.patterns = tuple(tuple(o.split("*", 1)) for o in listed if "*" in o and o != "*")
        self.methods = frozenset(m.strip().upper() for m in methods if m.strip())
        self.headers = frozenset(h.strip().lower() for h in headers if h.strip())
        self.credentials = credentials
        self.answer_headers = {
            "Access-Control-Allow-Methods": ", ".join(sorted(self.methods)),
            "Access-Control-Allow-Headers": ", ".join(h.strip() for h in headers if h.strip()),
            "Access-Control-Expose-Headers": EXPOSE,
        }
        if credentials:
            self.answer_headers["Access-Control-Allow-Credentials"] = "true"

    @classmethod
    def from_config(cls, config: Config) -> CorsPolicy:
        origins = config.cors_allow_origins or [origin_of(config.ocis_url)]
        return cls(origins, config.cors_allow_methods, config.cors_allow_headers,
                   config.cors_allow_credentials)

    def allows(self, origin: str) -> bool:
        origin = origin.lower()
        if self.any or origin in self.exact:
            return True
        return any(len(origin) >= len(head) + len(tail) and origin.startswith(head)
                   and origin.endswith(tail) for head, tail in self.patterns)

    def _allow_origin(self, origin: str) -> str:
        # `*` only when no credentials go with it (a browser refuses `*` with credentials)
        return "*" if self.any and not self.credentials else origin

    def preflight(self, request: web.Request, origin: str) -> web.Response:
        """The answer to a preflight: rs/cors's, whatever path or service it is for."""
        response = web.Response(status=204, headers={"Vary": _PREFLIGHT_VARY})
        method = request.headers.get("Access-Control-Request-Method", "").strip().upper()
        asked = [h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
                 if h.strip()]
        if (not self.allows(origin) or method not in self.methods
                or any(h.lower() not in self.headers for h in asked)):
            return response
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = self._allow_origin(origin)
        headers["Access-Control-Allow-Methods"] = method
        if asked:
            headers["Access-Control-Allow-Headers"] = ", ".join(asked)
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return response

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """The root app's `on_response_prepare`: CORS headers on every answer to a listed origin."""
        origin = request.headers.get("Origin")
        if origin is None or (request.method == "OPTIONS"
                              and "Access-Control-Request-Method" in request.headers):
            return                                 # no CORS request, or a preflight: done
        headers = response.headers
        if "Vary" not in headers:
            headers["Vary"] = "Origin"
        elif "origin" not in headers["Vary"].lower():
            headers["Vary"] += ", Origin"
        if not self.allows(origin):
            return
        headers.update(self.answer_headers)
        headers["Access-Control-Allow-Origin"] = self._allow_origin(origin)


def is_preflight(request: web.Request) -> str | None:
    """The origin of a CORS preflight, None for any other request (an `OPTIONS` without
    `Access-Control-Request-Method` is WebDAV capability discovery, answered by the service)."""
    origin = request.headers.get("Origin")
    if origin is None or "Access-Control-Request-Method" not in request.headers:
        return None
    return origin
