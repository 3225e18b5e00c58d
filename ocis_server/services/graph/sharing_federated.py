"""The sharer's Graph side of federation, as oCIS: federated contacts found by `/users?$search=`
(GRAPH_INCLUDE_OCM_SHAREES), a Graph invite whose recipient is such a user making a federated
share (`sharing.federated_sent`), those shares among the item's permissions, and the refusal
to make a federated user a space member.

A federated user's Graph id is oCIS's: the base64 of `<remote user id>@<provider>`
(`contacts.graph_id`); it is `userType` Federated with one identity whose issuer is the provider.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import contacts, federated_sent
from ocis_server.storage import AcceptedUser, Node, OcmShare

from . import directory
from .config import CONTEXT_KEY
from .drives import iso_time
from .sharing_render import recipients_of, role_refs, user_identity

FEDERATED = "Federated"
NOT_A_MEMBER = "federated user can not become a space member"


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def federated_user(contact: AcceptedUser) -> dict[str, Any]:
    """A contact as a LibreGraph user (oCIS `identity.CreateUserModelFromCS3`)."""
    fid = contacts.graph_id(contact)
    return {"id": fid, "displayName": contact.display_name or contact.address,
            "mail": contact.mail, "userType": FEDERATED,
            "identities": [{"issuer": contact.provider, "issuerAssignedId": fid}]}


async def search(request: web.Request, caller: User, query: directory.Query) -> list[dict[str, Any]]:
    """The caller's federated contacts matching `$search` (and a `userType` filter), when
    GRAPH_INCLUDE_OCM_SHAREES is on; other filters match no federated user."""
    ctx = _ctx(request)
    if not ctx.config.graph_include_ocm_sharees:
        return []
    for name, value in query.filters:
        if name != "userType" or value.lower() != FEDERATED.lower():
            return []
    found = await contacts.contacts(ctx, caller)
    return [federated_user(c) for c in found
            if directory.matches(query.search, c.display_name, c.mail, c.address)]


def split_recipients(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the body with the local recipients only, the federated addresses): an `objectId` that is
    oCIS's federated id (base64 of `user@domain`) names a federated user."""
    local, remote = [], []
    for entry in recipients_of(body):
        object_id = entry.get("objectId") if isinstance(entry, dict) else None
        address = contacts.address_of_graph_id(object_id) if isinstance(object_id, str) else None
        if address is not None and entry.get("@libre.graph.recipient.type", "user") == "user":
            remote.append(address)
        else:
            local.append(entry)
    return {**body, "recipients": local}, list(dict.fromkeys(remote))


def refuse_members(body: dict[str, Any]) -> None:
    """oCIS: a federated user cannot be invited to a space root."""
    if split_recipients(body)[1]:
        raise BadRequest(NOT_A_MEMBER)


async def _display_name(ctx: ServiceContext, user: User, address: str) -> str:
    contact = await contacts.find(ctx, user, address)
    return contact.display_name if contact and contact.display_name else address


async def permission(request: web.Request, user: User, share: OcmShare) -> dict[str, Any]:
    """A federated share as a LibreGraph permission (grantee: the federated user)."""
    ctx = _ctx(request)
    remote_id, _, provider = share.grantee.rpartition("@")
    fid = contacts.graph_id(AcceptedUser(user.id, provider, remote_id, "", "", 0.0))
    body: dict[str, Any] = {
        "id": share.id, **role_refs(share.role_id, share.permissions),
        "grantedToV2": {"user": {"id": fid,
                                 "displayName": await _display_name(ctx, user, share.grantee),
                                 "@libre.graph.userType": FEDERATED}},
        "invitation": {"invitedBy": {"user": await user_identity(request, share.creator_id)}},
        "createdDateTime": iso_time(share.ctime),
    }
    if share.expiration is not None:
        body["expirationDateTime"] = iso_time(share.expiration)
    return body


async def invite(request: web.Request, user: User, node: Node, access: Access,
                 role: roles.Role, expiration: float | None,
                 addresses: list[str]) -> list[dict[str, Any]]:
    """Share `node` with each federated address (the sharing layer's rules: a federated role,
    OCM_REQUIRE_INVITE, the providers file, the peer's answer)."""
    ctx = _ctx(request)
    if ctx.ocm is None:
        raise BadRequest("federated sharing is not enabled on this server (OCIS_ENABLE_OCM)")
    made = []
    for address in addresses:
        try:
            created = await federated_sent.create(ctx, user, node, access, role, address,
                                                  ctx.ocm, expiration)
        except AlreadyExists:
            raise BadRequest("the item is already shared with this recipient") from None
        made.append(await permission(request, user, created.value))
    return made


async def on_node(request: web.Request, user: User, node: Node) -> list[dict[str, Any]]:
    """The federated shares of the item the caller manages."""
    found = await federated_sent.managed(_ctx(request), user, [node.id])
    return [await permission(request, user, share) for share in found]


async def managed_on(request: web.Request, user: User, node: Node,
                     perm_id: str) -> OcmShare | None:
    """The federated share `perm_id` of this item the caller manages, else None."""
    share = await federated_sent.visible(_ctx(request), user, perm_id)
    if share is not None and share.node_id != node.id:
        raise NotFound("permission not found")
    return share


async def delete(request: web.Request, user: User, share: OcmShare) -> None:
    ctx = _ctx(request)
    await federated_sent.delete(ctx, user, share, ctx.ocm)


async def update(request: web.Request, user: User, share: OcmShare, role: roles.Role | None,
                 expiration: float | None, clear: bool) -> dict[str, Any]:
    ctx = _ctx(request)
    updated = await federated_sent.update(ctx, user, share, ctx.ocm, role=role,
                                          expiration=expiration, clear_expiration=clear)
    return await permission(request, user, updated.value)
