"""The HTML of the link pages: password form, folder listing, file card, upload form, messages,
the private-link file page. Every value is escaped; every form carries the CSRF token; nothing is
cached or framed; no script runs (CSP)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from aiohttp import web

from ocis_server.domain.previews import has_preview
from ocis_server.services.htmlpages import (
    error_alert,
    hidden,
    html_page,
    message_body,
    security_headers,
)
from ocis_server.storage import Node

_STYLE = """body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0}
main{max-width:44rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px #0002}h1{font-size:1.4rem;margin-top:0;word-break:break-all}
table{width:100%;border-collapse:collapse}td{padding:.35rem;border-bottom:1px solid #eee}
td.size{text-align:right;white-space:nowrap}label{display:block;margin-top:1rem}
input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button,a.button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem;display:inline-block}
.error{color:#a00;background:#fee;padding:.5rem;border-radius:4px}
.ok{color:#060;background:#efe;padding:.5rem;border-radius:4px}
code{background:#f0f0f0;padding:.3rem;display:block;word-break:break-all}
td.thumb{width:2.2rem}td.thumb img{width:2rem;height:2rem;display:block;border-radius:3px;border:1px solid #ddd}
img#preview{max-width:100%;max-height:60vh;display:block;margin:1rem 0;border:1px solid #eee}"""
LIST_THUMB = 64          # px asked for a listing thumbnail (shown at 2rem: sharp on HiDPI)

HEADERS = security_headers(form_action_self=True, images=True)   # thumbnails: /s/<token>/preview


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    return html_page(title, body, style=_STYLE, headers=HEADERS, status=status)


def message_page(title: str, text: str, *, status: int = 200) -> web.Response:
    return page(title, message_body(title, text), status=status)


def human_size(size: int) -> str:
    """IEC units, as the CLI and the TUI show sizes (the server may not import their
    `ocis_cli.client.units`; tests/test_cli_tables.py keeps the two the same)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _csrf(token: str) -> str:
    return hidden(csrf=token)


def _alert(error: str, notice: str) -> str:
    return error_alert(error) + (f'<p class="ok" id="notice">{escape(notice)}</p>' if notice else "")


def password_page(base: str, csrf: str, *, error: str = "", status: int = 200) -> web.Response:
    body = (f"<h1>This link is protected</h1>{_alert(error, '')}"
            f'<form method="post" action="{escape(base)}/unlock">{_csrf(csrf)}'
            '<label for="password">Password</label>'
            '<input type="password" id="password" name="password" autofocus required>'
            '<button type="submit" id="submit">Open</button></form>')
    return page("Protected link", body, status=status)


def _href(base: str, action: str, path: str) -> str:
    return f"{base}{action}?{urlencode({'path': path})}" if path else f"{base}{action}"


def upload_form(base: str, csrf: str, path: str, *, drop: bool) -> str:
    title = "Drop files here" if drop else "Upload files"
    return (f'<h2>{title}</h2><form method="post" enctype="multipart/form-data" '
            f'action="{escape(_href(base, "/upload", path))}">{_csrf(csrf)}'
            '<input type="file" name="file" id="file" multiple required>'
            '<button type="submit" id="upload">Upload</button></form>')


def _thumb_cell(base: str, sub: str, node: Node, mimetype: str, previews: bool) -> str:
    if not previews or node.is_dir or not has_preview(mimetype):
        return '<td class="thumb"></td>'
    query = urlencode({"path": sub, "x": LIST_THUMB, "y": LIST_THUMB})
    return (f'<td class="thumb"><img src="{escape(base)}/preview?{escape(query)}" alt="" '
            'loading="lazy"></td>')


def folder_page(base: str, title: str, path: str, entries: list[Node], *, csrf: str,
                can_upload: bool, error: str = "", notice: str = "",
                types: dict[str, str] | None = None, previews: bool = False) -> web.Response:
    """`types`: content type by name, for the thumbnails shown when `previews` is on."""
    rows = []
    if path:
        parent = "/".join(path.split("/")[:-1])
        rows.append(f'<tr><td class="thumb"></td><td><a href="{escape(_href(base, "", parent))}"'
                    ' id="up">..</a></td><td></td></tr>')
    for node in entries:
        sub = f"{path}/{node.name}" if path else node.name
        if node.is_dir:
            link = f'<a href="{escape(_href(base, "", sub))}">{escape(node.name)}/</a>'
            size = ""
        else:
            link = (f'<a href="{escape(_href(base, "/download", sub))}" download>'
                    f"{escape(node.name)}</a>")
            size = human_size(node.size)
        thumb = _thumb_cell(base, sub, node, (types or {}).get(node.name, ""), previews)
        rows.append(f'<tr class="entry">{thumb}<td>{link}</td><td class="size">{size}</td></tr>')
    listing = f'<table id="listing">{"".join(rows)}</table>' if rows else \
        '<p id="empty">This folder is empty.</p>'
    heading = escape(title) + (f" / {escape(path)}" if path else "")
    body = f"<h1>{heading}</h1>{_alert(error, notice)}{listing}"
    if can_upload:
        body += upload_form(base, csrf, path, drop=False)
    return page(title, body)


def file_page(base: str, node: Node, *, preview: bool = False) -> web.Response:
    """`preview`: show the file's thumbnail (fitted in 1920x1080, never larger than the image)."""
    image = (f'<img id="preview" src="{escape(base)}/preview?x=1920&amp;y=1080&amp;processor=fit"'
             f' alt="{escape(node.name)}">' if preview else "")
    body = (f'<h1 id="name">{escape(node.name)}</h1>{image}<p id="size">{human_size(node.size)}'
            f'</p><a class="button" id="download" href="{escape(base)}/download" download>'
            "Download</a>")
    return page(node.name, body)


def drop_page(base: str, title: str, csrf: str, *, error: str = "",
              notice: str = "") -> web.Response:
    body = (f"<h1>{escape(title)}</h1><p>Files you upload here can only be seen by the owner."
            f"</p>{_alert(error, notice)}{upload_form(base, csrf, '', drop=True)}")
    return page(title, body)


def private_file_page(node: Node, location: str, command: str, download: str) -> web.Response:
    kind = "Folder" if node.is_dir else "File"
    body = (f'<h1 id="name">{escape(node.name or "/")}</h1><p>{kind} in <span id="location">'
            f"{escape(location)}</span>"
            + ("" if node.is_dir else f", {human_size(node.size)}") + "</p>"
            "<p>Get it with the ocis command line client:</p>"
            f'<code id="command">{escape(command)}</code>'
            + ("" if node.is_dir else
               f'<a class="button" id="download" href="{escape(download)}" download>Download</a>'))
    return page(node.name or "Private link", body)


def quote_path(path: str) -> str:
    return quote(path, safe="/")
