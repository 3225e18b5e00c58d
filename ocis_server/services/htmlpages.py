"""The server-rendered HTML shared by the IdP and the public-link pages: the page shell with its
no-cache/no-frame headers, escaped form fields and alerts, and the double-submit CSRF cookie."""

from __future__ import annotations

import hmac
from html import escape

from aiohttp import web


def security_headers(*, form_action_self: bool, referrer: str = "no-referrer",
                     images: bool = False, **extra: str) -> dict[str, str]:
    """Never cached, framed or sniffed, no referrer, no script (CSP); `form_action_self` also
    limits form targets to this site (the IdP's consent form must redirect to a client).
    `referrer="same-origin"` for pages whose form POSTs are checked by Origin: under no-referrer
    browsers send `Origin: null` with a form POST (Fetch, "append a request Origin header").
    `images`: the page shows images from this site (the link pages' thumbnails)."""
    form_action = "form-action 'self'; " if form_action_self else ""
    img_src = "img-src 'self'; " if images else ""
    return {"Cache-Control": "no-store", **extra, "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": referrer,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       f"{img_src}{form_action}frame-ancestors 'none'; "
                                       "base-uri 'none'"}


def html_page(title: str, body: str, *, style: str, headers: dict[str, str],
              status: int = 200) -> web.Response:
    html = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} - ownCloud Infinite Scale</title><style>{style}</style>"
            f"</head><body><main>{body}</main></body></html>")
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=headers)


def message_body(title: str, text: str) -> str:
    return f'<h1>{escape(title)}</h1><p id="message">{escape(text)}</p>'


def hidden(**fields: str) -> str:
    """Hidden form inputs, names and values escaped (the CSRF token travels as `csrf`)."""
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                   for k, v in fields.items())


def error_alert(text: str) -> str:
    return f'<p class="error" role="alert" id="error">{escape(text)}</p>' if text else ""


def set_csrf_cookie(response: web.StreamResponse, name: str, token: str, *, path: str,
                    secure: bool) -> None:
    response.set_cookie(name, token, path=path, httponly=True, samesite="Strict", secure=secure)


def csrf_matches(request: web.Request, cookie_name: str, sent: str) -> bool:
    """Whether the form's token is the one in the browser's CSRF cookie (both present)."""
    cookie = request.cookies.get(cookie_name, "")
    return bool(cookie and sent) and hmac.compare_digest(cookie.encode(), sent.encode())
