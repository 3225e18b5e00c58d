"""`POST /ocm/notifications` (OCM API `NewNotification`): a provider tells us about a share it
sent before. Served: `SHARE_UNSHARED` for a file or folder, which removes the registry entries of
that share (sharing/federated.py `unshared`). The notification must carry the share's
`sharedSecret` (as Nextcloud sends it): the body names no sender, and the secret is what proves
the caller is the provider that made the share. Other notification or resource types are 501.
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import NotSupported
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated

from .errors import InvalidBody
from .providers import Providers
from .shares import read_json

NOTIFICATION_TYPES = ("SHARE_ACCEPTED", "SHARE_DECLINED", "REQUEST_RESHARE", "SHARE_UNSHARED",
                      "RESHARE_UNDO", "RESHARE_CHANGE_PERMISSION", "USER_REMOVED")
SUPPORTED = ("SHARE_UNSHARED",)


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
        raise NotSupported("NOTIFICATION_NOT_SUPPORTED: only SHARE_UNSHARED of a file or folder")
    secret = notification.get("sharedSecret")
    if not isinstance(secret, str) or not secret or len(secret) > 512:
        raise InvalidBody([("notification.sharedSecret", "MISSING")])
    await federated.unshared(ctx, body["providerId"], secret,
                             lambda domain: providers.find(domain) is not None)
    return web.json_response({}, status=201)
