"""Sharing NG on drive items: `invite`, `permissions` (list, PATCH, DELETE) for user and group shares
of files and folders, and on a drive root for project space membership (sharing_members.py).
Parses LibreGraph requests, asks the sharing layer (`ocis_server/sharing`, which holds every
rule) and renders `permission` objects; a role must apply to the item's kind (400 otherwise).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.domain.ids import ResourceId
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import rules, shares
from ocis_server.sharing import links as link_rules
from ocis_server.sharing.shares import Grant
from ocis_server.storage import Node, OcmShare, Share, knows_storage

from . import sharing_federated as federated
from . import sharing_links as links
from . import sharing_members as members
from .config import CONTEXT_KEY
from .drives import read_body
from .me import principal
from .sharing_render import (
    ALL_ACTIONS,
    allowed_role,
    grantees_of,
    parse_time,
    role_definition,
    share_permission,
    weight_of,
)


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


async def resolve_item(request: web.Request) -> Node:
    """The node named by `{drive_id}` and `{item_id}` (or the drive's root for `/root/...`)."""
    storage = _ctx(request).storage
    try:
        drive = ResourceId.parse(request.match_info["drive_id"])
        item_raw = request.match_info.get("item_id")
        if drive.node_id or not knows_storage(storage, drive.storage_id):
            raise NotFound("drive not found")
        if item_raw is None:
            return await storage.lookup(drive.space_id, ())
        item = ResourceId.parse(item_raw)
        if item.space_id != drive.space_id or not knows_storage(storage, item.storage_id):
            raise NotFound("item not found")
        node = await storage.get_node(item.node_id or item.space_id)
        if node.space_id != drive.space_id:
            raise NotFound("item not found")
        return node
    except BadRequest:
        raise NotFound("item not found") from None


async def item_access(request: web.Request, user: User) -> tuple[Node, Access]:
    ctx = _ctx(request)
    node = await resolve_item(request)
    try:
        access = await rules.access_to(ctx, user, node)
    except NotFound:
        raise NotFound("item not found") from None
    return node, access


def requested_role(body: dict[str, Any], item_kind: str) -> roles.Role:
    """The one unified role of `roles`; it must be offered for the item's kind."""
    wanted = body.get("roles")
    if not isinstance(wanted, list) or len(wanted) != 1 or not isinstance(wanted[0], str):
        raise BadRequest("exactly one role id is required in roles")
    role = roles.by_id(wanted[0])
    if role not in roles.available_for(item_kind):
        raise BadRequest("role not applicable to this resource")
    return role


ACTIONS = "@libre.graph.permissions.actions"


def requested_grant(body: dict[str, Any], item_kind: str) -> tuple[Grant, roles.Role | None]:
    """An invitation's grant: one role id in `roles`, or (oCIS accepts it too) the list of
    `@libre.graph.permissions.actions`: the role with exactly those actions, else a custom grant
    of the OCS bits they stand for (rendered back as actions)."""
    if "roles" in body or ACTIONS not in body:
        named = requested_role(body, item_kind)
        return Grant.of(named), named
    actions = body[ACTIONS]
    if not isinstance(actions, list) or not actions or \
            not all(isinstance(a, str) for a in actions):
        raise BadRequest(f"{ACTIONS} must be a non-empty list of actions")
    role = roles.role_for_actions(actions, item_kind)
    if role is not None:
        return Grant.of(role), role
    bits = roles.share_bits(roles.bits_for_actions(actions, item_kind), item_kind)
    return Grant("", bits), None


# --- handlers -----------------------------------------------------------------------------------

async def invite(request: web.Request) -> web.Response:
    """`POST .../items/{id}/invite` (a share per recipient) or `.../root/invite` (members)."""
    user = principal(request)
    node, access = await item_access(request, user)
    body = await read_body(request)
    if node.parent_id is None:
        federated.refuse_members(body)
        return await members.invite_members(request, user, access, body)
    ctx = _ctx(request)
    rules.require_share_permission(access)
    grant, role = requested_grant(body, rules.kind(node))
    expiration = parse_time(body.get("expirationDateTime"))
    local, remote = federated.split_recipients(body)
    grantees = await grantees_of(ctx, local) if local["recipients"] else []
    value = []
    if grantees:
        try:
            created = await shares.create(ctx, user, node, access, grant, grantees, expiration)
        except AlreadyExists:
            raise BadRequest("the item is already shared with this recipient") from None
        value = [await share_permission(request, share) for share in created.value]
    if remote and role is None:
        raise BadRequest("federated invitations need a role id in roles")
    value += await federated.invite(request, user, node, access, role, expiration, remote) \
        if remote and role is not None else []
    return web.json_response({"value": value})


async def _grants(request: web.Request, node: Node, access: Access) -> list[dict[str, Any]]:
    """The shares (a drive root: the members) and, for who may share, the links of the item.
    Recipients of a share may not list the item's grants."""
    ctx = _ctx(request)
    found = await shares.on_node(ctx, node, access)
    if node.parent_id is None:
        value = await members.member_permissions(request, access.space)
    else:
        value = [await share_permission(request, share) for share in found]
        value += await federated.on_node(request, principal(request), node)
    return value + [links.link_permission(request, link)
                    for link in await link_rules.on_node(ctx, node, access)]


_ACTIONS_KEY = "@libre.graph.permissions.actions.allowedValues"
_ROLES_KEY = "@libre.graph.permissions.roles.allowedValues"
_SELECTABLE = (_ACTIONS_KEY, _ROLES_KEY, "value")
_FEDERATED = '@Subject.UserType=="Federated"'


def _selected(request: web.Request) -> tuple[str, ...]:
    raw = request.query.get("$select", "").strip()
    if not raw:
        return _SELECTABLE
    wanted = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not wanted or any(part not in _SELECTABLE for part in wanted):
        raise BadRequest("$select may name " + ", ".join(_SELECTABLE))
    return wanted


def _federated_only(request: web.Request) -> bool:
    """The one `$filter` clients send: roles whose conditions allow federated users."""
    raw = request.query.get("$filter", "").strip()
    if not raw:
        return False
    if _ROLES_KEY in raw and _FEDERATED in raw.replace("\\", ""):
        return True
    raise BadRequest("unsupported $filter")


async def list_permissions(request: web.Request) -> web.Response:
    """`GET .../permissions`: shares (and for a drive root, members) with the roles and actions
    that may be granted on this item (`$select` of those three, `$filter` for federated roles).
    Recipients of a share may not list the item's grants."""
    user = principal(request)
    node, access = await item_access(request, user)
    selected = _selected(request)
    offered = rules.offered_roles(access, rules.kind(node))
    if _federated_only(request):
        offered = [role for role in offered if role.federated]
    body: dict[str, Any] = {}
    if _ACTIONS_KEY in selected:
        body[_ACTIONS_KEY] = ALL_ACTIONS if offered else []
    if _ROLES_KEY in selected:
        body[_ROLES_KEY] = [allowed_role(r) for r in offered]
    if "value" in selected:
        body["value"] = await _grants(request, node, access)
    return web.json_response(body)


async def _share_of(request: web.Request, node: Node) -> Share:
    """The share `{perm_id}` of this node (whoever manages it is the sharing layer's question)."""
    try:
        share = await _ctx(request).storage.get_share(request.match_info["perm_id"])
    except NotFound:
        raise NotFound("permission not found") from None
    if share.node_id != node.id:
        raise NotFound("permission not found")
    return share


async def get_permission(request: web.Request) -> web.Response:
    """`GET .../permissions/{id}`: one share, link or (on a drive root) member."""
    user = principal(request)
    node, access = await item_access(request, user)
    perm_id = request.match_info["perm_id"]
    for perm in await _grants(request, node, access):
        if perm["id"] == perm_id:
            return web.json_response(perm)
    raise NotFound("permission not found")


async def update_permission(request: web.Request) -> web.Response:
    """`PATCH .../permissions/{id}`: `roles` and/or `expirationDateTime` (null clears it)."""
    user = principal(request)
    node, access = await item_access(request, user)
    body = await read_body(request)
    ctx = _ctx(request)
    link = await link_rules.managed_on(ctx, user, node, access, request.match_info["perm_id"])
    if link is not None:
        return await links.update_link(request, user, link, body)
    if node.parent_id is None:
        return await members.update_member(request, user, access, body)
    ocm_share = await federated.managed_on(request, user, node, request.match_info["perm_id"])
    if ocm_share is not None:
        return await _update_federated(request, user, node, ocm_share, body)
    share = await _share_of(request, node)
    await shares.require_manager(ctx, user, share)
    grant = Grant.of(requested_role(body, rules.kind(node))) if "roles" in body else None
    expiration = parse_time(body.get("expirationDateTime"))
    if grant is None and "expirationDateTime" not in body:
        raise BadRequest("nothing to update: give roles or expirationDateTime")
    updated = await shares.update(
        ctx, user, share, grant=grant, expiration=expiration,
        clear_expiration="expirationDateTime" in body and expiration is None)
    return web.json_response(await share_permission(request, updated.value))


async def _update_federated(request: web.Request, user: User, node: Node, share: OcmShare,
                            body: dict[str, Any]) -> web.Response:
    role = requested_role(body, rules.kind(node)) if "roles" in body else None
    expiration = parse_time(body.get("expirationDateTime"))
    if role is None and "expirationDateTime" not in body:
        raise BadRequest("nothing to update: give roles or expirationDateTime")
    clear = "expirationDateTime" in body and expiration is None
    return web.json_response(await federated.update(request, user, share, role, expiration, clear))


async def delete_permission(request: web.Request) -> web.Response:
    user = principal(request)
    node, access = await item_access(request, user)
    ctx = _ctx(request)
    link = await link_rules.managed_on(ctx, user, node, access, request.match_info["perm_id"])
    if link is not None:
        await link_rules.delete(ctx, user, link)
    elif node.parent_id is None:
        await members.remove_member(request, user, access)
    elif (ocm_share := await federated.managed_on(request, user, node,
                                                  request.match_info["perm_id"])) is not None:
        await federated.delete(request, user, ocm_share)
    else:
        await shares.delete(ctx, user, await _share_of(request, node))
    return web.Response(status=204)


async def create_link(request: web.Request) -> web.Response:
    """`POST .../createLink`: a public link of the item (sharing_links.py)."""
    user = principal(request)
    node, access = await item_access(request, user)
    return await links.create_link(request, user, node, access, await read_body(request))


async def set_password(request: web.Request) -> web.Response:
    user = principal(request)
    node, access = await item_access(request, user)
    link = await link_rules.managed_on(_ctx(request), user, node, access,
                                       request.match_info["perm_id"])
    if link is None:
        raise NotFound("link not found")
    return await links.set_password(request, user, link, await read_body(request))


async def role_definitions(request: web.Request) -> web.Response:
    """`GET /v1beta1/roleManagement/permissions/roleDefinitions`: a plain array (enabled roles)."""
    principal(request)
    return web.json_response([role_definition(r, weight_of(r)) for r in roles.ROLES if r.enabled])


async def role_definition_by_id(request: web.Request) -> web.Response:
    principal(request)
    role_id = request.match_info["role_id"]
    found = [r for r in roles.ROLES if r.id == role_id and r.enabled]
    if not found:
        raise NotFound("role not found")
    return web.json_response(role_definition(found[0], weight_of(found[0])))
