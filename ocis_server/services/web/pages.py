"""The HTML of `/`: what this server is, how to connect (desktop app, WebDAV, `ocis login`, sign
in) and, signed in, the user's spaces and the shares waiting for them. Every value is escaped; no
script runs (CSP); nothing is cached or framed."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ocis_server.services.htmlpages import (
    error_alert,
    hidden,
    html_page,
    message_body,
    security_headers,
)

_STYLE = """body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;color:#222}
main{max-width:52rem;margin:2rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px #0002}h1{font-size:1.5rem;margin-top:0}h2{font-size:1.15rem;margin-top:2rem}
table{width:100%;border-collapse:collapse}th,td{padding:.4rem;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}th{font-weight:600;color:#555}td.num{white-space:nowrap}
dt{font-weight:600;margin-top:.8rem}dd{margin:.2rem 0 0 0}
code{background:#f0f0f0;padding:.15rem .3rem;word-break:break-all;font-size:.9rem}
.button,button{display:inline-block;padding:.5rem 1.2rem;font-size:1rem;background:#0b5cad;
color:#fff;border:0;border-radius:4px;text-decoration:none;cursor:pointer}
.who{display:flex;justify-content:space-between;align-items:center;gap:1rem}
.who form{margin:0}.who button{background:#666}.muted{color:#666}
.error{color:#a00;background:#fee;padding:.5rem;border-radius:4px}"""

HEADERS = security_headers(form_action_self=True)
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@dataclass(slots=True)
class Account:
    name: str
    login: str
    spaces: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def human_size(n: int) -> str:
    """IEC units, as the CLI and the TUI show sizes: 1536 -> '1.5 KiB'."""
    size = float(n)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    return html_page(title, body, style=_STYLE, headers=HEADERS, status=status)


def message_page(title: str, text: str, *, status: int = 200) -> web.Response:
    return page(title, message_body(title, text) + '<p><a href="/">Back to the start page</a></p>',
                status=status)


def _connect(base: str, account: Account | None) -> str:
    signin = "" if account else (
        '<dt>In this browser</dt><dd><a class="button" id="signin" href="/login">Sign in</a></dd>')
    return ('<h2>Connect</h2><dl id="connect">'
            '<dt>ownCloud desktop and mobile apps</dt>'
            f'<dd>Server address: <code id="server-url">{escape(base)}</code></dd>'
            '<dt>WebDAV</dt>'
            f'<dd>Your personal space: <code id="webdav-url">{escape(base)}/remote.php/webdav/</code>'
            f'</dd><dd>Any space: <code>{escape(base)}/dav/spaces/&lt;space id&gt;</code>'
            + (" (listed below)" if account else " (listed here once you sign in)") + "</dd>"
            '<dt>Command line</dt>'
            f'<dd><code id="login-command">ocis login {escape(base)}</code></dd>'
            f"{signin}</dl>")


def _quota(space: dict[str, Any]) -> str:
    quota = _dict(space.get("quota"))
    used, total = quota.get("used"), quota.get("total")
    if not isinstance(used, int):
        return ""
    if isinstance(total, int) and total > 0:
        return f"{human_size(used)} of {human_size(total)}"
    return human_size(used)


def _link(item: dict[str, Any], text: str) -> str:
    """A link to the item's private-link page: its webUrl, else `/f/<id>`."""
    url, rid = item.get("webUrl"), item.get("id")
    if not (isinstance(url, str) and url) and isinstance(rid, str) and rid:
        url = f"/f/{quote(rid, safe='')}"
    if isinstance(url, str) and url:
        return f'<a href="{escape(url)}">{escape(text)}</a>'
    return escape(text)


def _spaces(spaces: list[dict[str, Any]]) -> str:
    if not spaces:
        return '<h2>Your spaces</h2><p id="no-spaces">You have no spaces yet.</p>'
    rows = []
    for space in sorted(spaces, key=lambda s: (s.get("driveType") != "personal",
                                               str(s.get("name", "")).lower())):
        name = str(space.get("name") or space.get("id") or "")
        kind = {"mountpoint": "share", "virtual": "shares"}.get(str(space.get("driveType")),
                                                               str(space.get("driveType")))
        dav = _dict(space.get("root")).get("webDavUrl")
        rows.append(f'<tr class="space"><td>{_link(space, name)}</td><td>{escape(kind)}</td>'
                    f'<td class="num">{escape(_quota(space))}</td>'
                    f"<td><code>{escape(str(dav or ''))}</code></td></tr>")
    return ('<h2>Your spaces</h2><table id="spaces"><tr><th>Name</th><th>Type</th><th>Used</th>'
            f'<th>WebDAV URL</th></tr>{"".join(rows)}</table>')


def _shared_by(item: dict[str, Any]) -> str:
    shared = _dict(_dict(item.get("remoteItem")).get("shared"))
    user = _dict(_dict(shared.get("sharedBy")).get("user"))
    return str(user.get("displayName") or user.get("id") or "someone")


def _waiting(waiting: list[dict[str, Any]]) -> str:
    if not waiting:
        return ('<h2>Shares waiting for you</h2><p id="no-waiting">No share is waiting for you.'
                "</p>")
    rows = []
    for item in waiting:
        remote = _dict(item.get("remoteItem"))
        name = str(item.get("name") or remote.get("name") or "")
        rows.append(f'<tr class="waiting"><td>{_link(remote, name)}</td>'
                    f"<td>{escape(_shared_by(item))}</td></tr>")
    return ('<h2>Shares waiting for you</h2><p class="muted">Accept one with an ownCloud app or '
            "<code>ocis share accept &lt;id&gt;</code> (ids: <code>ocis share ls --pending</code>)."
            '</p><table id="waiting"><tr><th>Name</th><th>Shared by</th></tr>'
            f'{"".join(rows)}</table>')


def home_page(base: str, account: Account | None, *, csrf: str, notice: str = "") -> web.Response:
    intro = (f"<p>This is the ownCloud Infinite Scale server at <code>{escape(base)}</code>: files "
             "in spaces, shared with people and by link, reached with the ownCloud apps, any "
             "WebDAV client and the <code>ocis</code> command line.</p>")
    body = f"<h1>ownCloud Infinite Scale</h1>{error_alert(notice)}"
    if account is not None:
        who = escape(account.name) + (f' <span class="muted">({escape(account.login)})</span>'
                                      if account.login and account.login != account.name else "")
        body += (f'<div class="who"><p id="signed-in">Signed in as {who}</p>'
                 f'<form method="post" action="/logout">{hidden(csrf=csrf)}'
                 '<button type="submit" id="signout">Sign out</button></form></div>')
    body += intro + _connect(base, account)
    if account is not None:
        body += _spaces(account.spaces) + _waiting(account.waiting)
    return page("Start", body)
