"""The headers every file download carries, whichever service serves it (WebDAV GET, a version,
a public link): the browser must not sniff another type than the one sent, open the file in the
page's context, or show it in a frame of another site (oCIS sets these on every response of its
proxy; reva's download adds Content-Disposition: attachment)."""

from __future__ import annotations

DOWNLOAD_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Download-Options": "noopen",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Permitted-Cross-Domain-Policies": "none",
    "X-Robots-Tag": "none",
    "X-XSS-Protection": "1; mode=block",
}
