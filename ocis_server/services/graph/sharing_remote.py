"""Federated shares received over OCM in LibreGraph: an item of `sharedWithMe` per share (any
state, as for local shares) and, once accepted, a drive of `me/drives`: a remote space whose id
lies under oCIS's OCM storage id and whose `webDavUrl` is on this server (paris forwards its
traffic to the sharer). The owner is the federated user (`einstein@zurich.test`, userType
Federated). While the sharer does not answer, the drive is still listed, marked unreachable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import OcisError
from ocis_server.identity import User
from ocis_server.services.context import RemoteStatus, ServiceContext
from ocis_server.sharing import federated
from ocis_server.storage import RemoteShare

from .config import CONTEXT_KEY
from .drives import iso_time
from .sharing_render import base_url

ROOT_OPAQUE_ID = "Lw=="        # the root of a remote space as reva names it: base64 of "/"


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def _federated_user(fid: str, display_name: str) -> dict[str, Any]:
    return {"id": fid, "displayName": display_name or fid, "@libre.graph.userType": "Federated"}


def remote_item(share: RemoteShare, user: User) -> dict[str, Any]:
    """The shared item as `remoteItem` describes it: the root of the remote space."""
    space = federated.space_id(share)
    role = federated.role(share)
    owner = _federated_user(share.owner, share.owner_display_name)
    sender = _federated_user(share.sender, share.sender_display_name)
    item: dict[str, Any] = {
        "id": f"{space}!{ROOT_OPAQUE_ID}", "name": share.name,
        "parentReference": {"driveId": space, "driveType": "mountpoint"},
        "createdBy": {"user": sender},
        "permissions": [{
            "id": share.id, "roles": [role.id] if role else [],
            "grantedToV2": {"user": {"id": user.id, "displayName": user.display_name}},
            "invitation": {"invitedBy": {"user": sender}},
            "createdDateTime": iso_time(share.ctime),
            **({"expirationDateTime": iso_time(share.expiration)} if share.expiration else {}),
        }],
        "shared": {"owner": {"user": owner}, "sharedBy": {"user": sender},
                   "sharedDateTime": iso_time(share.ctime)},
    }
    item.update({"file": {"mimeType": "application/octet-stream"}}
                if share.resource_type == "file" else {"folder": {}})
    return item


def shared_item(share: RemoteShare, user: User) -> dict[str, Any]:
    """One entry of `sharedWithMe` for a federated share."""
    remote = remote_item(share, user)
    return {
        "id": remote["id"], "name": share.name,
        "lastModifiedDateTime": iso_time(share.ctime),
        "createdBy": remote["createdBy"],
        "parentReference": {"driveId": federated.space_id(share), "driveType": "mountpoint"},
        "@UI.Hidden": False,
        "@client.synchronize": share.state == "accepted",
        "remoteItem": remote,
        **({"file": remote["file"]} if "file" in remote else {"folder": {}}),
    }


async def shared_items(request: web.Request, user: User) -> list[dict[str, Any]]:
    return [shared_item(s, user) for s in await federated.received(_ctx(request), user)]


async def status_of(ctx: ServiceContext, share: RemoteShare) -> RemoteStatus:
    """How the sharer answers for this share now (the ocm service asks it, bounded and cached);
    without the ocm service in this process, unreachable, saying so."""
    if ctx.remote_spaces is None:
        return RemoteStatus(False, "federation (the ocm service) does not run here")
    try:
        return await ctx.remote_spaces.status(share)
    except OcisError as exc:        # one remote space never fails the whole listing
        return RemoteStatus(False, exc.message)


def remote_drive(request: web.Request, share: RemoteShare, user: User,
                 status: RemoteStatus) -> dict[str, Any]:
    """The accepted share as a drive of the caller's registry."""
    base = base_url(request)
    space = federated.space_id(share)
    root: dict[str, Any] = {"id": f"{space}!{ROOT_OPAQUE_ID}",
                            "webDavUrl": f"{base}/dav/spaces/{space}",
                            "remoteItem": remote_item(share, user)}
    if status.etag:
        root["eTag"] = status.etag
    drive: dict[str, Any] = {
        "id": space, "name": share.name, "driveType": "mountpoint",
        "driveAlias": f"ocm/{share.name.lower().replace(' ', '-')}", "description": "",
        "owner": {"user": _federated_user(share.owner, share.owner_display_name)},
        "lastModifiedDateTime": iso_time(status.mtime or share.ctime),
        "webUrl": f"{base}/f/{space}", "root": root,
        "@ocis.federation": {"provider": share.provider,
                             "reachable": status.reachable, "message": status.message},
    }
    return drive


async def remote_drives(request: web.Request, user: User) -> list[dict[str, Any]]:
    """The caller's remote spaces (accepted federated shares), each with the sharer's status."""
    ctx = _ctx(request)
    shares = await federated.accepted(ctx, user)
    # Asked side by side: one sharer that does not answer costs one time-out, not one per share.
    statuses = await asyncio.gather(*(status_of(ctx, share) for share in shares))
    return [remote_drive(request, s, user, st) for s, st in zip(shares, statuses, strict=True)]
