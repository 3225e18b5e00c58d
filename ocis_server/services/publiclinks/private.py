"""`/f/<fileid>`: a private link. After login (the proxy requires it) the page shows the file or
folder, where it is, and the `ocis` command that fetches it; who may see it is `auth.authz`."""

from __future__ import annotations

import shlex
from urllib.parse import quote

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.domain.errors import BadRequest, NotFound, Unauthenticated
from ocis_server.domain.ids import ResourceId
from ocis_server.identity import User, UserStore
from ocis_server.storage import Storage, knows_storage

from . import pages
from .config import STATE_KEY


def _node_id(raw: str, storage: Storage) -> str:
    try:
        rid = ResourceId.parse(raw)
    except BadRequest:
        raise NotFound("file not found") from None
    if not knows_storage(storage, rid.storage_id):
        raise NotFound("file not found")
    return rid.node_id or rid.space_id


def cli_command(user: User, space_type: str, space_name: str, space_owner: str,
                path: str, *, is_dir: bool) -> str:
    """`ocis get PATH` for the caller's own personal space, `ocis get 'Space:/PATH'` else
    (`ocis ls` for a folder)."""
    remote = path if space_type == "personal" and space_owner == user.id else \
        f"{space_name}:{path}"
    return f"ocis {'ls' if is_dir else 'get'} {shlex.quote(remote)}"


async def private_link(request: web.Request) -> web.StreamResponse:
    user: User | None = request.get("principal")
    if user is None:
        raise Unauthenticated("sign in to open this link")
    ctx = request.app[STATE_KEY].ctx
    try:
        node = await ctx.storage.get_node(_node_id(request.match_info["fileid"], ctx.storage))
        access = await authz.node_access(ctx.storage, ctx.users, user, node)
    except NotFound:
        raise NotFound("This file does not exist or you have no access to it.") from None
    space = access.space
    path = "/" + "/".join(await ctx.storage.node_path(node))
    if access.share is not None:          # reached through a share: name the owner's space id
        command = cli_command(user, "shared", space.space_id, "", path, is_dir=node.is_dir)
        owner = await _owner_name(ctx.users, node.owner_id)
        location = f"shared with you by {owner}"
    else:
        command = cli_command(user, space.type, space.name, space.owner_id, path,
                              is_dir=node.is_dir)
        location = "your personal space" if space.type == "personal" and \
            space.owner_id == user.id else f"the space {space.name}"
    download = f"/dav/spaces/{quote(space.space_id, safe='$')}{quote(path, safe='/')}"
    return pages.private_file_page(node, f"{location}: {path}", command, download)


async def _owner_name(users: UserStore, owner_id: str) -> str:
    try:
        owner = await users.get(owner_id)
        return str(owner.display_name or owner.username)
    except NotFound:
        return owner_id
