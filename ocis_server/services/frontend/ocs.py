"""The one OCS envelope renderer: `{"ocs": {"meta": ..., "data": ...}}` as JSON or XML, v1 or v2.

Facts from reva `internal/http/services/owncloud/ocs/response/response.go`: `?format=json` selects
JSON, anything else XML (see `wants_json`); booleans are `true/false` in JSON but `1/0` in XML; lists render as
repeated `<element>`; v1 answers HTTP 200 with statuscode 100, v2 maps statuscodes to HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

# Predefined OCS status codes (reva response.go MetaXxx).
OK_V1 = 100
OK_V2 = 200
FAILURE = 101
INVALID_INPUT = 102
FORBIDDEN = 104
SERVER_ERROR = 996
UNAUTHORISED = 997
NOT_FOUND = 998
UNKNOWN_ERROR = 999
# Server-side failures whose statuscode is their HTTP status, not 996 (server error): the request
# may succeed later or on another node.
PASSED_THROUGH = frozenset({502, 503})
# Those a v1 client must see in the HTTP status too: 401 makes it ask for credentials again, a
# 429 (the login throttle) carries the Retry-After it is to wait. A v1 503 stays 200.
_V1_HTTP = {UNAUTHORISED: 401, 429: 429}


@dataclass(frozen=True, slots=True)
class Meta:
    status: str            # ok | failure (reva also uses "error" for a few codes)
    statuscode: int
    message: str


def api_version(request: web.Request) -> int:
    """2 for `/ocs/v2.php/...`, 1 for `/ocs/v1.php/...`; other paths under /ocs render as v2."""
    version = request.match_info.get("version")
    if version == "v1.php":
        return 1
    if version == "v2.php":
        return 2
    return 1 if "/v1.php/" in request.path else 2


def http_status(version: int, statuscode: int) -> int:
    """The HTTP status for an OCS statuscode (reva response.go `OcsV2StatusCodeToHTTP`).

    v1 always answers 200, except 997 (`_V1_HTTP`): a 401 is what makes clients (ownCloud 10
    behaviour) ask for credentials again instead of treating the body as data.
    """
    if statuscode in _V1_HTTP:
        return _V1_HTTP[statuscode]
    if version == 1:
        return 200
    if statuscode in (OK_V1, OK_V2):
        return 200
    mapped = {NOT_FOUND: 404, SERVER_ERROR: 500, UNKNOWN_ERROR: 500, FORBIDDEN: 403}
    if statuscode in mapped:
        return mapped[statuscode]
    if 100 < statuscode < 200:
        return 400
    if 200 <= statuscode < 600:
        return statuscode
    return 500


def wants_json(request: web.Request) -> bool:
    """`?format=json`; without a `format` parameter an `Accept: application/json` also selects
    JSON (the rule the proxy uses for its 401s, so one request never gets two formats)."""
    if "format" in request.query:
        return request.query["format"].lower() == "json"
    return "application/json" in request.headers.get("Accept", "")


def ok_meta(version: int) -> Meta:
    return Meta("ok", OK_V1 if version == 1 else OK_V2, "OK")


def respond(request: web.Request, data: Any, meta: Meta | None = None) -> web.Response:
    """Render `data` (dicts, lists, str, int, bool, None) in the envelope the request asked for."""
    version = api_version(request)
    meta = meta or ok_meta(version)
    status = http_status(version, meta.statuscode)
    meta_dict = {"status": meta.status, "statuscode": meta.statuscode, "message": meta.message}
    headers = {"Ocs-Api-Version": str(version)}
    if wants_json(request):
        body = json.dumps({"ocs": {"meta": meta_dict, "data": data}}, ensure_ascii=False)
        return web.Response(status=status, text=body, headers=headers,
                            content_type="application/json", charset="utf-8")
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<ocs>'
           + to_xml("meta", meta_dict) + to_xml("data", data) + "</ocs>")
    return web.Response(status=status, text=xml, headers=headers,
                        content_type="text/xml", charset="utf-8")


def to_xml(name: str, value: Any) -> str:
    """One element: mappings nest, sequences become `<element>` children, bools are 1/0."""
    return f"<{name}>{_xml_content(value)}</{name}>"


def _xml_content(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Mapping):
        return "".join(to_xml(str(key), item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return "".join(to_xml("element", item) for item in value)
    return escape(str(value))
