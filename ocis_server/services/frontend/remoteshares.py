"""Federated shares a user received over OCM, in the OCS share API: as `ShareData` records of
share type 6 among the shares with me (reva `ReceivedOCMShare2ShareData`: path `/Shares/<name>`,
the owner's federated id, the remote space id), and under ownCloud's `remote_shares` endpoints
(`apps/files_sharing` RemoteOcsController: list accepted or pending, get, accept, decline,
remove). What is recorded and who may answer it is the sharing layer's (`sharing/federated.py`).
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated
from ocis_server.storage import RemoteShare

from . import ocs
from .config import CONTEXT_KEY
from .sharerecord import FEDERATED, SHARE_PREFIX, STATE_NUMBER, format_time
from .user import principal

# The root of a remote space as reva names it in `item_source`: base64 of "/".
ROOT_OPAQUE_ID = "Lw=="
def mimetype(share: RemoteShare) -> str:
    if share.resource_type != "file":
        return "httpd/unix-directory"
    return mimetypes.guess_type(share.name, strict=False)[0] or "application/octet-stream"


def share_data(share: RemoteShare, user: User) -> dict[str, Any]:
    """One received federated share as `ShareData` (share type 6)."""
    space = federated.space_id(share)
    path = f"{SHARE_PREFIX}/{share.name}"
    return {
        "id": share.id, "share_type": FEDERATED,
        "uid_owner": share.sender, "displayname_owner": share.sender_display_name,
        "additional_info_owner": "",
        "permissions": federated.permission_bits(share), "stime": int(share.ctime), "parent": "",
        "expiration": format_time(share.expiration), "token": "",
        "uid_file_owner": share.owner, "displayname_file_owner": share.owner_display_name,
        "additional_info_file_owner": "",
        "state": STATE_NUMBER[share.state], "path": path,
        "item_type": "file" if share.resource_type == "file" else "folder",
        "mimetype": mimetype(share), "space_id": space, "storage_id": space, "storage": 0,
        "item_source": f"{space}!{ROOT_OPAQUE_ID}", "file_source": f"{space}!{ROOT_OPAQUE_ID}",
        "file_parent": "", "file_target": path,
        "share_with": user.username, "share_with_user_type": 0,
        "share_with_displayname": user.display_name, "share_with_additional_info": user.email,
        "mail_send": 0, "name": share.name, "url": "", "quicklink": False, "hidden": False,
    }


def _remote(share: RemoteShare) -> str:
    """The sharer's server as ownCloud's `remote` names it: the origin of the WebDAV URI."""
    parts = urlsplit(share.uri)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}/"
    return f"https://{share.provider}/"


def remote_record(share: RemoteShare, user: User) -> dict[str, Any]:
    """One entry of `remote_shares` as ownCloud renders it. The `share_token` (the shared secret
    the sharer checks) is withheld: a client never needs it, paris forwards on its behalf."""
    return {
        "id": share.id, "remote": _remote(share), "remote_id": share.provider_id,
        "share_token": "", "name": f"/{share.name}", "owner": share.owner.rpartition("@")[0],
        "owner_display_name": share.owner_display_name, "user": user.username,
        "mountpoint": f"{SHARE_PREFIX}/{share.name}",
        "accepted": 1 if share.state == "accepted" else 0,
        "mimetype": mimetype(share), "mtime": int(share.ctime),
        "permissions": federated.permission_bits(share),
        "type": "file" if share.resource_type == "file" else "dir",
        "file_id": f"{federated.space_id(share)}!{ROOT_OPAQUE_ID}",
    }


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


async def received_records(ctx: ServiceContext, user: User, state: str | None,
                           path: str) -> list[dict[str, Any]]:
    """The caller's federated shares among the shares with me (`state` None: all; `path`
    `/Shares/<name>` or `/Shares` narrows as for local ones)."""
    out = []
    for share in await federated.received(ctx, user):
        if state is not None and share.state != state:
            continue
        if path and path not in (f"{SHARE_PREFIX}/{share.name}", SHARE_PREFIX):
            continue
        out.append(share_data(share, user))
    return out


async def answer(request: web.Request, share_id: str, state: str) -> web.Response:
    """`shares/pending/<ocm:id>`: accept or decline a federated share, answered as reva does."""
    ctx, user = _ctx(request), principal(request)
    changed = await federated.answer(ctx, user, share_id, state)
    return ocs.respond(request, [share_data(changed.value, user)])


async def one_record(request: web.Request, share_id: str) -> web.Response:
    ctx, user = _ctx(request), principal(request)
    return ocs.respond(request, [share_data(await federated.one(ctx, user, share_id), user)])


# --- ownCloud's remote_shares endpoints ---------------------------------------------------------

async def list_remote(request: web.Request) -> web.Response:
    """`GET remote_shares`: the accepted ones."""
    ctx, user = _ctx(request), principal(request)
    return ocs.respond(request, [remote_record(s, user) for s in await federated.accepted(ctx, user)])


async def list_pending(request: web.Request) -> web.Response:
    """`GET remote_shares/pending`: the ones waiting for an answer."""
    ctx, user = _ctx(request), principal(request)
    shares = [s for s in await federated.received(ctx, user) if s.state == "pending"]
    return ocs.respond(request, [remote_record(s, user) for s in shares])


async def _mine(request: web.Request, message: str) -> tuple[ServiceContext, User, RemoteShare]:
    ctx, user = _ctx(request), principal(request)
    try:
        return ctx, user, await federated.one(ctx, user, request.match_info["id"])
    except NotFound:
        raise NotFound(message) from None


async def get_remote(request: web.Request) -> web.Response:
    _, user, share = await _mine(request, "share does not exist")
    return ocs.respond(request, remote_record(share, user))


async def accept_remote(request: web.Request) -> web.Response:
    ctx, user, share = await _mine(request, "wrong share ID, share doesn't exist.")
    await federated.answer(ctx, user, share.id, "accepted")
    return ocs.respond(request, None)


async def decline_remote(request: web.Request) -> web.Response:
    ctx, user, share = await _mine(request, "wrong share ID, share doesn't exist.")
    await federated.answer(ctx, user, share.id, "declined")
    return ocs.respond(request, None)


async def remove_remote(request: web.Request) -> web.Response:
    """`DELETE remote_shares/<id>`: the entry leaves the caller's registry; the sharer's data is
    untouched (nothing of it was ever here)."""
    ctx, user, share = await _mine(request, "Share does not exist")
    await federated.remove(ctx, user, share.id)
    return ocs.respond(request, None)


def add_routes(app: web.Application, base: str) -> None:
    """The `remote_shares` routes under the share API's `base`; `pending` before `{id}`."""
    app.router.add_get(base + "/remote_shares", list_remote)
    app.router.add_get(base + "/remote_shares/pending", list_pending)
    app.router.add_post(base + "/remote_shares/pending/{id}", accept_remote)
    app.router.add_delete(base + "/remote_shares/pending/{id}", decline_remote)
    app.router.add_get(base + "/remote_shares/{id}", get_remote)
    app.router.add_delete(base + "/remote_shares/{id}", remove_remote)
