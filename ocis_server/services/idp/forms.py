"""The one way the IdP reads a POSTed form: application/x-www-form-urlencoded only (what its pages
and OAuth clients send), UTF-8, bounded in size and field count, no field twice (RFC 6749 §3.1)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from ocis_server.domain.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY = 64 * 1024
MAX_FIELDS = 32
MAX_FIELD = 4096


async def read_form(request: web.Request) -> dict[str, str]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("expected application/x-www-form-urlencoded")
    if (request.content_length or 0) > MAX_BODY:
        raise PayloadTooLarge("the form is too large")
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise PayloadTooLarge("the form is too large")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form is not valid UTF-8 form data") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise BadRequest("a form field is repeated")
    if any(len(v) > MAX_FIELD for v in fields.values()):
        raise BadRequest("a form field is too long")
    return fields
