"""OCS public links (share type 3; reva `handlers/apps/sharing/shares/public.go`, protocol-notes.md
§3): create, list, update, delete, and `tokeninfo/{protected,unprotected}/{token}`. Who may
link what, and the password policy, are the sharing layer's (`sharing/links.py`); what a link
grants is `auth.publiclink`.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from aiohttp import web

from ocis_server.auth import publiclink
from ocis_server.auth.throttle import client_address
from ocis_server.domain.errors import NotFound
from ocis_server.identity import User, UserStore
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import links, rules
from ocis_server.storage import Link, Node

from . import ocs
from .config import CONTEXT_KEY
from .sharerecord import PUBLIC_LINK, bool_param, format_time, int_param, parse_expiry

REDACTED = "***redacted***"
LINKS_KEY = web.AppKey("frontend_link_passwords", publiclink.LinkPasswords)


def mimetype(node: Node) -> str:
    if node.is_dir:
        return "httpd/unix-directory"
    return mimetypes.guess_type(node.name, strict=False)[0] or "application/octet-stream"


async def find_user(users: UserStore, user_id: str) -> User | None:
    try:
        return await users.get(user_id)
    except NotFound:
        return None


def link_url(ctx: ServiceContext, link: Link) -> str:
    return f"{ctx.public_url}/s/{link.token}"


async def link_record(ctx: ServiceContext, link: Link, node: Node) -> dict[str, Any]:
    """One `ShareData` of a public link as its creator sees it."""
    creator = await find_user(ctx.users, link.creator_id)
    owner = await find_user(ctx.users, node.owner_id)
    path = "/" + "/".join(await ctx.storage.node_path(node))
    space = f"{node.storage_id}${node.space_id}"
    secret = REDACTED if link.password_hash else ""
    return {
        "id": link.id, "share_type": PUBLIC_LINK,
        "uid_owner": creator.username if creator else link.creator_id,
        "displayname_owner": creator.display_name if creator else "",
        "additional_info_owner": creator.email if creator else "",
        "permissions": link.permissions, "stime": int(link.ctime), "parent": "",
        "expiration": format_time(link.expiration), "token": link.token,
        "uid_file_owner": owner.username if owner else node.owner_id,
        "displayname_file_owner": owner.display_name if owner else "",
        "additional_info_file_owner": owner.email if owner else "",
        "state": 0, "path": path, "item_type": "folder" if node.is_dir else "file",
        "mimetype": mimetype(node), "space_id": space, "storage_id": space, "storage": 0,
        "item_source": node.resource_id, "file_source": node.resource_id,
        "file_parent": node.parent_resource_id or "", "file_target": path,
        "share_with": secret, "share_with_displayname": secret,
        "share_with_user_type": 0, "share_with_additional_info": "", "mail_send": 0,
        "name": link.name, "url": link_url(ctx, link), "quicklink": link.quicklink,
        "hidden": False,
    }


def _requested_type(values: dict[str, str], node: Node, default: str | None) -> str | None:
    """The link type from `permissions` (0/1/3/4/5/15; 31 -> 1) or `publicUpload=true` (15)."""
    perms = int_param(values, "permissions")
    if perms is None and bool_param(values, "publicUpload"):
        perms = 15
    if perms is None:
        return default
    return publiclink.type_for_bits(perms, is_dir=node.is_dir)


async def create_link(ctx: ServiceContext, user: User, node: Node,
                      values: dict[str, str]) -> dict[str, Any]:
    """POST /shares with shareType=3 on a resolved node."""
    access = await rules.access_to(ctx, user, node)
    created = await links.create(
        ctx, user, node, access, link_type=_requested_type(values, node, "view") or "view",
        password=values.get("password", ""), expiration=parse_expiry(values.get("expireDate", "")),
        name=values.get("name", ""), quicklink=bool_param(values, "quicklink"))
    return await link_record(ctx, created.value, node)


async def own_links(ctx: ServiceContext, user: User,
                    node_ids: list[str] | None) -> list[dict[str, Any]]:
    """Records of the links the caller manages (on `node_ids` when given)."""
    return [await link_record(ctx, link, await ctx.storage.get_node(link.node_id))
            for link in await links.of_nodes(ctx, user, node_ids)]


async def update_link(ctx: ServiceContext, user: User, link: Link,
                      values: dict[str, str]) -> dict[str, Any]:
    node = await ctx.storage.get_node(link.node_id)
    expire = values.get("expireDate")
    updated = await links.update(
        ctx, user, link, link_type=_requested_type(values, node, None),
        password=values.get("password"), name=values.get("name"),
        expiration=parse_expiry(expire) if expire else None,
        clear_expiration=expire is not None and not expire.strip(),
        quicklink=bool_param(values, "quicklink") if "quicklink" in values else None)
    return await link_record(ctx, updated.value, node)


# --- tokeninfo ----------------------------------------------------------------------------------

async def _token_info(ctx: ServiceContext, link: Link, node: Node, *, full: bool) -> dict[str, Any]:
    info: dict[str, Any] = {"token": link.token, "link_url": link_url(ctx, link),
                            "password_protected": link.password_hash is not None,
                            "alias_link": link.link_type == "internal"}
    if not full:
        return info
    space = await ctx.storage.get_space(node.space_id)
    path = "/" + "/".join(await ctx.storage.node_path(node))
    info.update({"id": link.id, "storage_id": node.storage_id, "space_id": node.space_id,
                 "opaque_id": node.id, "path": "/" if node.is_dir else f"/{node.name}",
                 "space_path": path, "space_alias": space.alias,
                 "space_url": f"/{space.alias}{path}", "space_type": space.type})
    return info


async def tokeninfo(request: web.Request) -> web.Response:
    """`tokeninfo/unprotected/{token}` needs nothing but answers in full only for links without
    a password; `tokeninfo/protected/{token}` checks Basic `public:<password>` (throttled)."""
    ctx: ServiceContext = request.app[CONTEXT_KEY]
    try:
        link, node = await publiclink.open_link(ctx.storage, request.match_info["token"])
    except NotFound:
        raise NotFound("token not found") from None
    if request.match_info["kind"] == "protected":
        password = publiclink.basic_password(request.headers.get("Authorization"))
        address = client_address(request, ctx.config.trusted_proxies)
        await request.app[LINKS_KEY].check(link, password, address=address)
        full = True
    else:
        full = link.password_hash is None
    return ocs.respond(request, await _token_info(ctx, link, node, full=full))
