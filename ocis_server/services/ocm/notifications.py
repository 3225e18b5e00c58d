"""`POST /ocm/notifications` (OCM API `NewNotification`): a provider tells us about a share it
sent before. Served: `SHARE_UNSHARED` for a file or folder, which removes the registry entries of
that share (sharing/federated.py `unshared`), and `SHARE_CHANGE_PERMISSION` (reva's), which sets
their permissions from `notification.protocols.webdav.permissions` (`permissions_changed`). The notification must carry the share's
`sharedSecret` (as Nextcloud sends it): the body names no sender, and the secret is what proves
the caller is the provider that made the share. Other notification or resource types are 501.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.domain.errors import NotSupported
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated
from ocis_server.storage.api import REMOTE_PERMISSIONS

from .errors import InvalidBody
from .providers import Providers
from .shares import read_json

NOTIFICATION_TYPES = ("SHARE_ACCEPTED", "SHARE_DECLINED", "REQUEST_RESHARE", "SHARE_UNSHARED",
                      "RESHARE_UNDO", "RESHARE_CHANGE_PERMISSION", "USER_REMOVED",
                      "SHARE_CHANGE_PERMISSION")     # the last is reva's (oCIS) extension
SUPPORTED = ("SHARE_UNSHARED", "SHARE_CHANGE_PERMISSION")


async def notify(request: web.Request, ctx: ServiceContext, providers: Providers) -> web.Response:
    """POST /ocm/notifications."""
    body = await read_json(request)
    problems: list[tuple[str, str]] = []
    for key in ("notificationType", "resourceType", "providerId"):
        value = body.get(key)
        if not isinstance(value, str) or not value or len(value) > 512:
            problems.append((key, "MISSING" if value in (None, "") else "INVALID"))
    notification = body.get("notification", {})
    if not isinstance(notification, dict):
        problems.append(("notification", "NOT_AN_OBJECT"))
        notification = {}
    if not problems and body["notificationType"] not in NOTIFICATION_TYPES:
        problems.append(("notificationType", "INVALID"))
    if problems:
        raise InvalidBody(problems)
    if body["notificationType"] not in SUPPORTED or body["resourceType"] not in ("file", "folder"):
        raise NotSupported("NOTIFICATION_NOT_SUPPORTED: only SHARE_UNSHARED and "
                           "SHARE_CHANGE_PERMISSION of a file or folder")
    secret = notification.get("sharedSecret")
    if not isinstance(secret, str) or not secret or len(secret) > 512:
        raise InvalidBody([("notification.sharedSecret", "MISSING")])
    def trusted(domain: str) -> bool:
        return providers.find(domain) is not None

    if body["notificationType"] == "SHARE_CHANGE_PERMISSION":
        await federated.permissions_changed(ctx, body["providerId"], secret,
                                            new_permissions(notification), trusted)
    else:
        await federated.unshared(ctx, body["providerId"], secret, trusted)
    return web.json_response({}, status=201)


def new_permissions(notification: dict[str, Any]) -> tuple[str, ...]:
    """The webdav permissions of a `SHARE_CHANGE_PERMISSION` (reva: `protocols.webdav`)."""
    protocols = notification.get("protocols")
    webdav = protocols.get("webdav") if isinstance(protocols, dict) else None
    found = webdav.get("permissions") if isinstance(webdav, dict) else None
    if not isinstance(found, list) or not found or len(found) > 8 \
            or not all(isinstance(p, str) and p in REMOTE_PERMISSIONS for p in found):
        raise InvalidBody([("notification.protocols.webdav.permissions", "INVALID")])
    return tuple(dict.fromkeys(found))
