"""Public links through sharing NG: `createLink`, links in `permissions`, PATCH (type, expiry,
display name), DELETE and `setPassword` (oCIS `services/graph/pkg/service/v0/links.go`,
`linktype.go`). The link rows are the storage's; the bits of a link type are `auth.publiclink`'s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth import publiclink
from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Link, Node

from .config import CONTEXT_KEY
from .drives import iso_time, validate_text
from .sharing_render import base_url, parse_time

# Graph link type <-> the storage's link type (`createOnly` is the file drop).
TYPE_OF_GRAPH = {"view": "view", "upload": "upload", "edit": "edit", "createOnly": "file-drop",
                 "internal": "internal"}
GRAPH_OF_TYPE = {value: key for key, value in TYPE_OF_GRAPH.items()}
_FOLDER_ONLY = ("upload", "file-drop")
_WRITES = roles.UPDATE | roles.CREATE | roles.DELETE
MAX_LINK_NAME = 255


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


def _link_type(value: Any, node: Node) -> str:
    if not isinstance(value, str) or value not in TYPE_OF_GRAPH:
        raise BadRequest("type must be one of " + ", ".join(TYPE_OF_GRAPH))
    link_type = TYPE_OF_GRAPH[value]
    if link_type in _FOLDER_ONLY and not node.is_dir:
        raise BadRequest(f"a link of type {value} needs a folder")
    return link_type


def _bits(link_type: str, node: Node, access: Access) -> int:
    bits = publiclink.bits_for(link_type, is_dir=node.is_dir)
    if bits & ~access.permissions:
        raise PermissionDenied("you may not create that kind of link")
    return bits


def _require_password(request: web.Request, bits: int, has_password: bool) -> None:
    """OCIS_SHARING_PUBLIC_SHARE_MUST_HAVE_PASSWORD / ..._WRITEABLE_...: 400 without one."""
    cfg = _ctx(request).config
    if has_password or bits == 0:
        return
    if cfg.public_share_must_have_password or (
            bits & _WRITES and cfg.public_writeable_share_must_have_password):
        raise BadRequest("missing required password")


def _password(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 1024 or "\x00" in value:
        raise BadRequest("password must be a string")
    return value


def _name(value: Any) -> str:
    if value is None:
        return ""
    name = validate_text(value, "displayName").strip()
    if len(name) > MAX_LINK_NAME:
        raise BadRequest("displayName is too long")
    return name


async def create_link(request: web.Request, user: User, node: Node, access: Access,
                      body: dict[str, Any]) -> web.Response:
    if not access.permissions & roles.SHARE:
        raise PermissionDenied("you may not share this item")
    link_type = _link_type(body.get("type", "view"), node)
    bits = _bits(link_type, node, access)
    password = _password(body.get("password"))
    _require_password(request, bits, bool(password))
    quick = body.get("@libre.graph.quickLink", False)
    if not isinstance(quick, bool):
        raise BadRequest("@libre.graph.quickLink must be true or false")
    link = await _ctx(request).storage.create_link(
        node_id=node.id, link_type=link_type, permissions=bits, creator_id=user.id,
        password_hash=await publiclink.hash_link_password(password) if password else None,
        expiration=parse_time(body.get("expirationDateTime")),
        name=_name(body.get("displayName")), quicklink=quick)
    return web.json_response(link_permission(request, link))


async def node_links(request: web.Request, node: Node) -> list[dict[str, Any]]:
    links = await _ctx(request).storage.list_links(node_ids=[node.id])
    return [link_permission(request, link) for link in links]


async def managed_link(request: web.Request, user: User, node: Node,
                       access: Access) -> Link | None:
    """The link `{perm_id}` of this node if the caller may change it; None if no such link."""
    try:
        link = await _ctx(request).storage.get_link(request.match_info["perm_id"])
    except NotFound:
        return None
    if link.node_id != node.id:
        return None
    if link.creator_id != user.id and not (access.share is None
                                           and access.permissions & roles.SHARE):
        raise PermissionDenied("you may not change this link")
    return link


async def update_link(request: web.Request, link: Link, node: Node, access: Access,
                      body: dict[str, Any]) -> web.Response:
    """PATCH: `link.type`, `link.@libre.graph.displayName`, `expirationDateTime` (null clears)."""
    changes: dict[str, Any] = {}
    spec = body.get("link")
    if spec is not None and not isinstance(spec, dict):
        raise BadRequest("link must be an object")
    spec = spec or {}
    if "type" in spec:
        link_type = _link_type(spec["type"], node)
        bits = _bits(link_type, node, access)
        _require_password(request, bits, link.password_hash is not None)
        changes.update(link_type=link_type, permissions=bits)
    if "@libre.graph.displayName" in spec:
        changes["name"] = _name(spec["@libre.graph.displayName"])
    if "@libre.graph.quickLink" in spec:
        if not isinstance(spec["@libre.graph.quickLink"], bool):
            raise BadRequest("@libre.graph.quickLink must be true or false")
        changes["quicklink"] = spec["@libre.graph.quickLink"]
    if "expirationDateTime" in body:
        expiration = parse_time(body["expirationDateTime"])
        changes["expiration"] = expiration
        changes["clear_expiration"] = expiration is None
    if not changes:
        raise BadRequest("nothing to update")
    updated = await _ctx(request).storage.update_link(link.id, **changes)
    return web.json_response(link_permission(request, updated))


async def set_password(request: web.Request, link: Link, body: dict[str, Any]) -> web.Response:
    """`POST .../permissions/{id}/setPassword {"password": "..."}`; "" removes it unless the
    policy demands one."""
    password = _password(body.get("password"))
    _require_password(request, link.permissions, bool(password))
    storage = _ctx(request).storage
    if password:
        updated = await storage.update_link(
            link.id, password_hash=await publiclink.hash_link_password(password))
    else:
        updated = await storage.update_link(link.id, clear_password=True)
    return web.json_response(link_permission(request, updated))
