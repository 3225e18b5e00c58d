"""The OCS share API `/ocs/v{1,2}.php/apps/files_sharing/api/v1/` for user and group shares and
project-space membership (reva `handlers/apps/sharing/shares`; protocol-notes.md §3): create, list
own and received, get, update, delete, accept/decline, sharees. Parses OCS requests, asks the
sharing layer (`ocis_server/sharing`, which holds every rule) and renders `ShareData`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.domain import roles
from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    NotFound,
    PermissionDenied,
)
from ocis_server.domain.ids import ResourceId
from ocis_server.domain.paths import split_path
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated, federated_sent, links, received, rules, shares
from ocis_server.sharing.shares import Grant
from ocis_server.storage import Node, knows_storage

from . import ocs
from .config import CONTEXT_KEY
from . import remoteshares
from .federatedshares import (
    create_federated,
    federated_record,
    own_federated,
    update_federated,
)
from .publicshares import create_link, link_record, own_links, update_link
from .sharerecord import (
    FEDERATED,
    GROUP,
    PUBLIC_LINK,
    SHARE_PREFIX,
    SPACE_GROUP,
    SPACE_USER,
    STATE_OF_NUMBER,
    TYPE_OF_GRANTEE,
    USER,
    bool_param,
    int_param,
    params,
    parse_expiry,
    share_record,
)
from .spaceshares import create_space_share, delete_space_share
from .user import principal


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


async def resolve_node(ctx: ServiceContext, user: User, values: dict[str, str]) -> Node:
    """The resource named by `space` (a resource id) or `path` (below the caller's home)."""
    storage = ctx.storage
    ref = values.get("space") or values.get("space_ref") or ""
    try:
        if ref:
            rid = ResourceId.parse(ref)
            if not knows_storage(storage, rid.storage_id):
                raise NotFound("resource not found")
            if rid.node_id:
                node = await storage.get_node(rid.node_id)
                if node.space_id != rid.space_id:
                    raise NotFound("resource not found")
                return node
            return await storage.lookup(rid.space_id, ())
        path = values.get("path")
        if path is None:
            raise BadRequest("missing path or space")
        return await storage.lookup(user.id, split_path(path))
    except NotFound:
        raise NotFound("Wrong path, file/folder doesn't exist") from None


def requested_grant(values: dict[str, str], kind: str) -> Grant:
    """The role from `role`, or the bits from `permissions` (default: all, then stripped)."""
    role_name = values.get("role", "").strip()
    if role_name:
        role = roles.by_name(role_name)
        roles.require_applicable(role, kind)
        return Grant.of(role)
    perms = int_param(values, "permissions")
    bits = roles.share_bits(roles.ALL if perms is None else perms, kind)
    matching = roles.role_for_bits(bits, kind)
    return Grant(matching.id if matching else "", bits)


async def _grantee(ctx: ServiceContext, share_type: int, share_with: str) -> tuple[str, str]:
    if not share_with:
        raise BadRequest("missing shareWith")
    if share_type == USER:
        try:
            return "user", (await ctx.users.get_by_name(share_with)).id
        except NotFound:
            try:
                return "user", (await ctx.users.get(share_with)).id
            except NotFound:
                raise NotFound("user not found") from None
    try:
        return "group", (await ctx.users.get_group_by_name(share_with)).id
    except NotFound:
        try:
            return "group", (await ctx.users.get_group(share_with)).id
        except NotFound:
            raise NotFound("group not found") from None


async def create_share(request: web.Request) -> web.Response:
    ctx, user, values = _ctx(request), principal(request), await params(request)
    share_type = int_param(values, "shareType")
    if share_type in (SPACE_USER, SPACE_GROUP):
        return ocs.respond(request, await create_space_share(ctx, user, values, share_type))
    if share_type not in (USER, GROUP, PUBLIC_LINK, FEDERATED):
        raise BadRequest("unknown share type")
    node = await resolve_node(ctx, user, values)
    if share_type == PUBLIC_LINK:
        return ocs.respond(request, await create_link(ctx, user, node, values))
    if share_type == FEDERATED:
        return ocs.respond(request, await create_federated(ctx, user, node, values))
    shares.require_shareable(node)
    access = await rules.access_to(ctx, user, node)
    rules.require_share_permission(access)
    grant = requested_grant(values, rules.kind(node))
    grantee = await _grantee(ctx, share_type, values.get("shareWith", "").strip())
    expiration = parse_expiry(values.get("expireDate", ""))
    try:
        created = await shares.create(ctx, user, node, access, grant, [grantee], expiration)
    except AlreadyExists:
        raise PermissionDenied("share already exists") from None
    return ocs.respond(request, await share_record(ctx.storage, ctx.users, created.value[0], node))


# --- own shares ---------------------------------------------------------------------------------

def _wanted_types(values: dict[str, str]) -> set[int] | None:
    raw = values.get("share_types", "").strip()
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise BadRequest("share_types must be a comma separated list of integers") from None


async def list_shares(request: web.Request) -> web.Response:
    ctx, user, values = _ctx(request), principal(request), await params(request)
    if bool_param(values, "shared_with_me"):
        return await _list_received(request, ctx, user, values)
    types = _wanted_types(values)
    node_ids = await _listed_node_ids(ctx, user, values)
    out: list[dict[str, Any]] = []
    for share in await shares.managed(ctx, user, node_ids):
        if types is not None and TYPE_OF_GRANTEE[share.grantee_type] not in types:
            continue
        node = await ctx.storage.get_node(share.node_id)
        out.append(await share_record(ctx.storage, ctx.users, share, node))
    if types is None or PUBLIC_LINK in types:
        out += await own_links(ctx, user, node_ids)
    if types is None or FEDERATED in types:
        out += await own_federated(ctx, user, node_ids)
    return ocs.respond(request, out)


async def _listed_node_ids(ctx: ServiceContext, user: User,
                           values: dict[str, str]) -> list[str] | None:
    """The nodes whose shares a listing names (`path`/`space`, `subfiles`); None: all own."""
    if not (values.get("path") or values.get("space") or values.get("space_ref")):
        return None
    node = await resolve_node(ctx, user, values)
    await rules.access_to(ctx, user, node)
    if bool_param(values, "subfiles"):
        return [child.id for child in await ctx.storage.children(node)]
    return [node.id]


# --- received shares ----------------------------------------------------------------------------

def _wanted_state(values: dict[str, str]) -> str | None:
    """`state=0|1|2|all`; default accepted (reva)."""
    raw = values.get("state", "").strip().lower()
    if raw == "all":
        return None
    if not raw:
        return "accepted"
    try:
        return STATE_OF_NUMBER[int(raw)]
    except (ValueError, KeyError):
        raise BadRequest("invalid state") from None


async def _list_received(request: web.Request, ctx: ServiceContext, user: User,
                         values: dict[str, str]) -> web.Response:
    state = _wanted_state(values)
    show_hidden = bool_param(values, "show_hidden")
    path = values.get("path", "").strip().rstrip("/")
    out: list[dict[str, Any]] = []
    for entry in await received.live(ctx, user):
        got = entry.received
        if state is not None and got.state != state:
            continue
        if got.hidden and not show_hidden:
            continue
        if path and path not in (f"{SHARE_PREFIX}/{got.mount_point}", SHARE_PREFIX):
            continue
        out.append(await share_record(ctx.storage, ctx.users, got.share, entry.node,
                                      received=got))
    out += await remoteshares.received_records(ctx, user, state, path)   # share type 6
    return ocs.respond(request, out)


async def _received_response(request: web.Request, ctx: ServiceContext, user: User,
                             share_id: str) -> web.Response:
    got = await received.one(ctx, user, share_id)
    node = await ctx.storage.get_node(got.share.node_id)
    record = await share_record(ctx.storage, ctx.users, got.share, node, received=got)
    return ocs.respond(request, [record])


async def accept_share(request: web.Request) -> web.Response:
    return await _answer_share(request, "accepted")


async def decline_share(request: web.Request) -> web.Response:
    return await _answer_share(request, "declined")


async def _answer_share(request: web.Request, state: str) -> web.Response:
    """POST (accept) or DELETE (decline) pending/{id}: the caller's state of a received share."""
    ctx, user = _ctx(request), principal(request)
    share_id = request.match_info["id"]
    if federated.is_federated(share_id):     # reva isFederatedReceivedShare: one verb for both
        return await remoteshares.answer(request, share_id, state)
    await received.answer(ctx, user, share_id, state)
    return await _received_response(request, ctx, user, share_id)


async def update_received(request: web.Request) -> web.Response:
    """PUT pending/{id}: `hidden=true|false` (reva UpdateReceivedShare)."""
    ctx, user, values = _ctx(request), principal(request), await params(request)
    share_id = request.match_info["id"]
    await received.one(ctx, user, share_id)
    if "hidden" not in values:
        raise BadRequest("nothing to update")
    await received.hide(ctx, user, share_id, bool_param(values, "hidden"))
    return await _received_response(request, ctx, user, share_id)


# --- one share ----------------------------------------------------------------------------------

async def get_share(request: web.Request) -> web.Response:
    ctx, user = _ctx(request), principal(request)
    if federated.is_federated(request.match_info["id"]):
        return await remoteshares.one_record(request, request.match_info["id"])
    link = await links.managed(ctx, user, request.match_info["id"])
    if link is not None:
        node = await ctx.storage.get_node(link.node_id)
        return ocs.respond(request, [await link_record(ctx, link, node)])
    sent = await federated_sent.visible(ctx, user, request.match_info["id"])
    if sent is not None:
        node = await ctx.storage.get_node(sent.node_id)
        return ocs.respond(request, [await federated_record(ctx, sent, node)])
    share, manages = await shares.visible(ctx, user, request.match_info["id"])
    if not manages:
        return await _received_response(request, ctx, user, share.id)
    node = await ctx.storage.get_node(share.node_id)
    return ocs.respond(request, [await share_record(ctx.storage, ctx.users, share, node)])


async def update_share(request: web.Request) -> web.Response:
    ctx, user, values = _ctx(request), principal(request), await params(request)
    link = await links.managed(ctx, user, request.match_info["id"])
    if link is not None:
        return ocs.respond(request, await update_link(ctx, user, link, values))
    sent = await federated_sent.visible(ctx, user, request.match_info["id"])
    if sent is not None:
        return ocs.respond(request, await update_federated(ctx, user, sent, values))
    share, manages = await shares.visible(ctx, user, request.match_info["id"])
    if not manages:
        raise PermissionDenied("only the sharer may change a share")
    node = await ctx.storage.get_node(share.node_id)
    grant = None
    if values.get("role", "").strip() or values.get("permissions", "").strip():
        grant = requested_grant(values, rules.kind(node))
    expire = values.get("expireDate")
    updated = await shares.update(
        ctx, user, share, grant=grant, expiration=parse_expiry(expire) if expire else None,
        clear_expiration=expire is not None and not expire.strip())
    return ocs.respond(request, await share_record(ctx.storage, ctx.users, updated.value, node))


async def delete_share(request: web.Request) -> web.Response:
    """The sharer removes the share; a recipient's DELETE declines it (reva RemoveShare)."""
    ctx, user = _ctx(request), principal(request)
    if federated.is_federated(request.match_info["id"]):
        await federated.answer(ctx, user, request.match_info["id"], "declined")
        return ocs.respond(request, None)
    if await delete_space_share(ctx, user, request.match_info["id"],
                                request.query.get("shareWith")):
        return ocs.respond(request, None)
    link = await links.managed(ctx, user, request.match_info["id"])
    if link is not None:
        await links.delete(ctx, user, link)
        return ocs.respond(request, None)
    sent = await federated_sent.visible(ctx, user, request.match_info["id"])
    if sent is not None:
        await federated_sent.delete(ctx, user, sent, ctx.ocm)
        return ocs.respond(request, None)
    share, manages = await shares.visible(ctx, user, request.match_info["id"])
    if manages:
        await shares.delete(ctx, user, share)
    else:
        await received.answer(ctx, user, share.id, "declined")
    return ocs.respond(request, None)


# --- sharees ------------------------------------------------------------------------------------

def _sharee(label: str, share_type: int, share_with: str, info: str, user_type: int) -> dict[str, Any]:
    return {"label": label, "value": {"shareType": share_type, "shareWith": share_with,
                                      "shareWithProvider": "", "shareWithAdditionalInfo": info,
                                      "userType": user_type}}


async def sharees(request: web.Request) -> web.Response:
    """Users and groups matching `search` (login, display name, mail; group name)."""
    ctx, user, values = _ctx(request), principal(request), await params(request)
    term = values.get("search", "").strip().lower()
    limit = max(1, int_param(values, "perPage") or 200)
    exact: dict[str, list[dict[str, Any]]] = {"users": [], "groups": [], "remotes": []}
    found: dict[str, list[dict[str, Any]]] = {"users": [], "groups": [], "remotes": []}
    if term and values.get("itemType", "") != "remote":
        for other in await ctx.users.list():
            fields = (other.username.lower(), other.display_name.lower(), other.email.lower())
            if other.id == user.id or not any(term in f for f in fields):
                continue
            bucket = exact if term in (fields[0], fields[2]) else found
            bucket["users"].append(_sharee(other.display_name or other.username, USER,
                                           other.username, other.email, int(other.is_guest)))
        for group in await ctx.users.list_groups():
            if term in group.name.lower():
                bucket = exact if term == group.name.lower() else found
                bucket["groups"].append(_sharee(group.name, GROUP, group.name, "", 0))
    found = {key: items[:limit] for key, items in found.items()}
    return ocs.respond(request, {"exact": exact, **found})

