"""The headers every file download carries, whichever service serves it (WebDAV GET, a version,
a public link): the browser must not sniff another type than the one sent, open the file in the
page's context, or show it in a frame of another site (oCIS sets these on every response of its
proxy; reva's download adds Content-Disposition: attachment)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ocis_server.storage import RemoteBlob

DOWNLOAD_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Download-Options": "noopen",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Permitted-Cross-Domain-Policies": "none",
    "X-Robots-Tag": "none",
    "X-XSS-Protection": "1; mode=block",
}


async def send_remote_blob(request: web.Request, blob: RemoteBlob, headers: Mapping[str, str],
                           range_header: str | None) -> web.StreamResponse:
    """A blob of a storage provider in another process, streamed through (the local path is
    sendfile's): the provider answers the Range (206 with Content-Range, 416 outside), the
    caller's headers (ETag, type, disposition) go out with it."""
    body = await blob.read(range_header)
    try:
        response = web.StreamResponse(status=body.status, headers=headers)
        if body.content_range:
            response.headers["Content-Range"] = body.content_range
        if body.status == 416:
            for name in ("Content-Disposition", "OC-Checksum"):
                response.headers.popall(name, None)
        response.content_length = body.length
        await response.prepare(request)
        if request.method != "HEAD":
            async for chunk in body.chunks:
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        body.release()
