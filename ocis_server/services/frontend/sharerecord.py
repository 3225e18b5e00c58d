"""OCS share records (`ShareData`, reva `pkg/conversions/main.go`; protocol-notes.md §3) and the
request parameters the share API reads: share types, received states, expiry dates.
"""

from __future__ import annotations

import calendar
import mimetypes
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.identity import User, UserStore
from ocis_server.storage import Node, ReceivedShare, Share, Storage

# Share types (reva conversions): 0 user, 1 group, 3 public link, 6 federated, 7/8 space members.
USER, GROUP, PUBLIC_LINK, FEDERATED, SPACE_USER, SPACE_GROUP = 0, 1, 3, 6, 7, 8
TYPE_OF_GRANTEE = {"user": USER, "group": GROUP}
# Received-share states as OCS numbers them.
STATE_NUMBER = {"accepted": 0, "pending": 1, "declined": 2}
STATE_OF_NUMBER = {v: k for k, v in STATE_NUMBER.items()}
SHARE_PREFIX = "/Shares"


async def params(request: web.Request) -> dict[str, str]:
    """Query parameters, overridden by a form body (clients send both ways)."""
    values = {key: value for key, value in request.query.items()}
    if request.method in ("POST", "PUT") and request.can_read_body:
        form = await request.post()
        values.update({key: value for key, value in form.items() if isinstance(value, str)})
    return values


def int_param(values: dict[str, str], name: str) -> int | None:
    raw = values.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None


def bool_param(values: dict[str, str], name: str) -> bool:
    return values.get(name, "").strip().lower() in ("true", "1", "yes")


def parse_expiry(raw: str) -> float | None:
    """`expireDate` as clients send it: `YYYY-MM-DD` (the end of that day, UTC, as oC10 did) or
    an RFC 3339 / `YYYY-MM-DD HH:MM:SS` time. "" -> None. (A past date is refused by the
    sharing layer's expiry policy, `sharing.rules.require_future`.)"""
    text = raw.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = time.strptime(text, "%Y-%m-%d")
            stamp = float(calendar.timegm(day)) + 86399
        else:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            stamp = parsed.timestamp()
    except ValueError:
        raise BadRequest("invalid expiration date") from None
    return stamp


def format_time(stamp: float | None) -> str:
    """`2006-01-02 15:04:05` (UTC) as reva renders `expiration`; None -> ""."""
    if stamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


async def _user(users: UserStore, user_id: str) -> User | None:
    try:
        return await users.get(user_id)
    except NotFound:
        return None


async def grantee_names(users: UserStore, share: Share) -> tuple[str, str, str, int]:
    """(share_with, display name, additional info, user type) of the recipient."""
    if share.grantee_type == "group":
        try:
            group = await users.get_group(share.grantee_id)
            return group.name, group.name, "", 0
        except NotFound:
            return share.grantee_id, share.grantee_id, "", 0
    user = await _user(users, share.grantee_id)
    if user is None:
        return share.grantee_id, share.grantee_id, "", 0
    return user.username, user.display_name, user.email, 1 if user.is_guest else 0


def _mimetype(node: Node) -> str:
    if node.is_dir:
        return "httpd/unix-directory"
    return mimetypes.guess_type(node.name, strict=False)[0] or "application/octet-stream"


async def share_record(storage: Storage, users: UserStore, share: Share, node: Node, *,
                       received: ReceivedShare | None = None) -> dict[str, Any]:
    """One `ShareData`: as the sharer sees it, or (with `received`) as the recipient does."""
    creator = await _user(users, share.creator_id)
    owner = await _user(users, node.owner_id)
    share_with, with_display, with_info, with_type = await grantee_names(users, share)
    if received is not None:
        path = f"{SHARE_PREFIX}/{received.mount_point}"
        state, hidden = STATE_NUMBER[received.state], received.hidden
    else:
        parts = await storage.node_path(node)
        path = "/" + "/".join(parts)
        state, hidden = STATE_NUMBER[share.initial_state], False
    space = f"{node.storage_id}${node.space_id}"
    return {
        "id": share.id,
        "share_type": TYPE_OF_GRANTEE[share.grantee_type],
        "uid_owner": creator.username if creator else share.creator_id,
        "displayname_owner": creator.display_name if creator else "",
        "additional_info_owner": creator.email if creator else "",
        "permissions": share.permissions,
        "stime": int(share.ctime),
        "parent": "",
        "expiration": format_time(share.expiration),
        "token": "",
        "uid_file_owner": owner.username if owner else node.owner_id,
        "displayname_file_owner": owner.display_name if owner else "",
        "additional_info_file_owner": owner.email if owner else "",
        "state": state,
        "path": path,
        "item_type": "folder" if node.is_dir else "file",
        "mimetype": _mimetype(node),
        "space_id": space,
        "storage_id": space,
        "storage": 0,
        "item_source": node.resource_id,
        "file_source": node.resource_id,
        "file_parent": node.parent_resource_id or "",
        "file_target": (path if received is not None
                        else f"{SHARE_PREFIX}/{node.name}"),
        "share_with": share_with,
        "share_with_user_type": with_type,
        "share_with_displayname": with_display,
        "share_with_additional_info": with_info,
        "mail_send": 0,
        "name": "",
        "url": "",
        "quicklink": False,
        "hidden": hidden,
    }
