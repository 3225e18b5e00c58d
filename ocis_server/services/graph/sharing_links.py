"""Public links through sharing NG: `createLink`, links in `permissions`, PATCH (type, expiry,
display name), DELETE and `setPassword` (oCIS `services/graph/pkg/service/v0/links.go`,
`linktype.go`). Who may link what, and the password policy, are the sharing layer's
(`sharing/links.py`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth.authz import Access
from ocis_server.domain.errors import BadRequest
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import links
from ocis_server.storage import Link, Node

from .config import CONTEXT_KEY
from .drives import iso_time, validate_text
from .sharing_render import base_url, parse_time

# Graph link type <-> the storage's link type (`createOnly` is the file drop).
TYPE_OF_GRAPH = {"view": "view", "upload": "upload", "edit": "edit", "createOnly": "file-drop",
                 "internal": "internal"}
GRAPH_OF_TYPE = {value: key for key, value in TYPE_OF_GRAPH.items()}


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def link_permission(request: web.Request, link: Link) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": link.id,
        "hasPassword": link.password_hash is not None,
        "createdDateTime": iso_time(link.ctime),
        "link": {
            "type": GRAPH_OF_TYPE.get(link.link_type, link.link_type),
            "webUrl": f"{base_url(request)}/s/{link.token}",
            "preventsDownload": False,
            "@libre.graph.displayName": link.name,
            "@libre.graph.quickLink": link.quicklink,
        },
    }
    if link.expiration is not None:
        body["expirationDateTime"] = iso_time(link.expiration)
    return body


def _link_type(value: Any) -> str:
    if not isinstance(value, str) or value not in TYPE_OF_GRAPH:
        raise BadRequest("type must be one of " + ", ".join(TYPE_OF_GRAPH))
    return TYPE_OF_GRAPH[value]


def _password(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest("password must be a string")
    return value


def _name(value: Any) -> str:
    return "" if value is None else validate_text(value, "displayName")


def _quick(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("@libre.graph.quickLink must be true or false")
    return value


async def create_link(request: web.Request, user: User, node: Node, access: Access,
                      body: dict[str, Any]) -> web.Response:
    created = await links.create(
        _ctx(request), user, node, access, link_type=_link_type(body.get("type", "view")),
        password=_password(body.get("password")),
        expiration=parse_time(body.get("expirationDateTime")),
        name=_name(body.get("displayName")),
        quicklink=_quick(body.get("@libre.graph.quickLink", False)))
    return web.json_response(link_permission(request, created.value))


async def update_link(request: web.Request, user: User, link: Link,
                      body: dict[str, Any]) -> web.Response:
    """PATCH: `link.type`, `link.@libre.graph.displayName`, `expirationDateTime` (null clears)."""
    spec = body.get("link")
    if spec is not None and not isinstance(spec, dict):
        raise BadRequest("link must be an object")
    spec = spec or {}
    expiration = parse_time(body.get("expirationDateTime"))
    updated = await links.update(
        _ctx(request), user, link,
        link_type=_link_type(spec["type"]) if "type" in spec else None,
        name=_name(spec["@libre.graph.displayName"]) if "@libre.graph.displayName" in spec
        else None,
        quicklink=_quick(spec["@libre.graph.quickLink"]) if "@libre.graph.quickLink" in spec
        else None,
        expiration=expiration,
        clear_expiration="expirationDateTime" in body and expiration is None)
    return web.json_response(link_permission(request, updated.value))


async def set_password(request: web.Request, user: User, link: Link,
                       body: dict[str, Any]) -> web.Response:
    """`POST .../permissions/{id}/setPassword {"password": "..."}`; "" removes it unless the
    policy demands one."""
    updated = await links.update(_ctx(request), user, link,
                                 password=_password(body.get("password")))
    return web.json_response(link_permission(request, updated.value))
