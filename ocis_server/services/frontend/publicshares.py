"""OCS public links (share type 3; reva `handlers/apps/sharing/shares/public.go`, protocol-notes.md
§3): create, list, update, delete, and `tokeninfo/{protected,unprotected}/{token}`. The link
rows are the storage's (`storage/links.py`); what a link grants is `auth.publiclink`.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from aiohttp import web

from ocis_server.auth import authz, publiclink
from ocis_server.auth.throttle import client_address
from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User, UserStore
from ocis_server.services.context import ServiceContext
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
    """POST /shares with shareType=3 on a resolved node (a project space root may be linked,
    a personal one not)."""
    if node.parent_id is None and (await ctx.storage.get_space(node.space_id)).type == "personal":
        raise BadRequest("Can not share space root")
    sharer = await authz.node_access(ctx.storage, ctx.users, user, node)
    if not sharer.permissions & roles.SHARE:
        raise PermissionDenied("no share permission")
    if bool_param(values, "quicklink"):       # one quick link per resource (oCIS): reuse it
        for existing in await ctx.storage.list_links(node_ids=[node.id]):
            if existing.quicklink:
                return await link_record(ctx, existing, node)
    link_type = _requested_type(values, node, "view") or "view"
    bits = publiclink.bits_for(link_type, is_dir=node.is_dir)
    if bits & ~sharer.permissions:
        raise PermissionDenied("insufficient permissions to create that kind of link")
    password = values.get("password", "")
    publiclink.require_password(ctx.config, bits, bool(password))
    pw_hash = await publiclink.hash_link_password(password) if password else None
    link = await ctx.storage.create_link(
        node_id=node.id, link_type=link_type, permissions=bits, creator_id=user.id,
        password_hash=pw_hash, expiration=parse_expiry(values.get("expireDate", "")),
        name=values.get("name", "").strip(), quicklink=bool_param(values, "quicklink"))
    return await link_record(ctx, link, node)


async def may_manage(ctx: ServiceContext, user: User, link: Link) -> bool:
    if link.creator_id == user.id:
        return True
    try:
        node = await ctx.storage.get_node(link.node_id)
        access = await authz.node_access(ctx.storage, ctx.users, user, node)
    except NotFound:
        return False
    return access.share is None and bool(access.permissions & roles.SHARE)


async def own_links(ctx: ServiceContext, user: User,
                    node_ids: list[str] | None) -> list[dict[str, Any]]:
    """Records of the links the caller manages (on `node_ids` when given)."""
    storage = ctx.storage
    if node_ids is not None:
        found = await storage.list_links(node_ids=node_ids)
    else:
        found = await storage.list_links(creator_id=user.id)
        found += await storage.list_links(space_id=user.id)
    unique = {link.id: link for link in found}
    out: list[dict[str, Any]] = []
    for link in unique.values():
        if await may_manage(ctx, user, link):
            out.append(await link_record(ctx, link, await storage.get_node(link.node_id)))
    return out


async def managed_link(ctx: ServiceContext, user: User, link_id: str) -> Link | None:
    """The link with this id if there is one the caller manages; None when the id is no link;
    NotFound when the caller may not see it."""
    try:
        link = await ctx.storage.get_link(link_id)
    except NotFound:
        return None
    if not await may_manage(ctx, user, link):
        raise NotFound("share not found")
    return link


async def update_link(ctx: ServiceContext, user: User, link: Link,
                      values: dict[str, str]) -> dict[str, Any]:
    node = await ctx.storage.get_node(link.node_id)
    link_type = _requested_type(values, node, None)
    bits = None if link_type is None else publiclink.bits_for(link_type, is_dir=node.is_dir)
    if bits is not None:
        sharer = await authz.node_access(ctx.storage, ctx.users, user, node)
        if bits & ~sharer.permissions:
            raise PermissionDenied("insufficient permissions to set that kind of link")
    password = values.get("password")
    pw_hash = await publiclink.hash_link_password(password) if password else None
    has_password = bool(password) if password is not None else link.password_hash is not None
    publiclink.require_password(ctx.config, link.permissions if bits is None else bits,
                                has_password)
    expire, name = values.get("expireDate"), values.get("name")
    if link_type is None and password is None and expire is None and name is None \
            and "quicklink" not in values:
        raise BadRequest("Wrong or no update parameter given")
    link = await ctx.storage.update_link(
        link.id, link_type=link_type, permissions=bits, password_hash=pw_hash,
        clear_password=password == "", name=None if name is None else name.strip(),
        expiration=parse_expiry(expire) if expire else None,
        clear_expiration=expire is not None and not expire.strip(),
        quicklink=bool_param(values, "quicklink") if "quicklink" in values else None)
    return await link_record(ctx, link, node)


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
