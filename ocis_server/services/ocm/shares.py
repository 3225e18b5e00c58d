"""`POST /ocm/shares`: another OCM server tells us it shared something with one of our users
(OCM API `NewShare`; docs/protocol-notes.md §14).

The answer follows the OCM API: 201 when recorded (the share waits, pending, in the recipient's
received federated shares); 400 with `validationErrors` for a missing or malformed field or an
unknown `shareWith`; 403 when the sender's domain is not in the providers file; 501 for a share
type, resource type, protocol or requirement this server does not offer; 409 when the provider
already sent this `providerId` to the user. A WebDAV `uri` must lie on an origin the providers
file lists for the sender (a share cannot point us at another host).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.domain.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    NotSupported,
    PayloadTooLarge,
    PermissionDenied,
)
from ocis_server.identity import User, UserStore
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated

from .config import CONFIG_KEY
from .errors import InvalidBody
from .providers import Provider, Providers, normalize_domain

MAX_BODY = 64 * 1024
SHARE_TYPES = ("user", "group", "federation")
SUPPORTED_SHARE_TYPES = ("user",)
SUPPORTED_RESOURCE_TYPES = ("file", "folder")
PERMISSIONS = ("read", "write", "share")
_REQUIRED = ("shareWith", "name", "providerId", "owner", "sender", "shareType", "resourceType")
_OPTIONAL = ("description", "ownerDisplayName", "senderDisplayName")
_LIMITS = {"name": 255, "description": 4096}
_LIMIT = 512
Problems = list[tuple[str, str]]


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (at most MAX_BODY bytes); InvalidBody or 413 otherwise."""
    if (request.content_length or 0) > MAX_BODY:
        raise PayloadTooLarge(f"the share must be at most {MAX_BODY} bytes")
    data = bytearray()
    while chunk := await request.content.read(MAX_BODY + 1 - len(data)):
        data += chunk
        if len(data) > MAX_BODY:
            raise PayloadTooLarge(f"the share must be at most {MAX_BODY} bytes")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidBody([("body", "INVALID_JSON")]) from None
    if not isinstance(body, dict):
        raise InvalidBody([("body", "NOT_AN_OBJECT")])
    return body


def _strings(body: dict[str, Any], problems: Problems) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in (*_REQUIRED, *_OPTIONAL):
        value = body.get(key, "" if key in _OPTIONAL else None)
        if value is None or (key in _REQUIRED and value == ""):
            problems.append((key, "MISSING"))
        elif not isinstance(value, str):
            problems.append((key, "NOT_A_STRING"))
        elif len(value) > _LIMITS.get(key, _LIMIT) or any(ord(c) < 32 for c in value
                                                             if key != "description"):
            problems.append((key, "INVALID"))
        else:
            out[key] = value.strip()
    name = out.get("name", "x")
    if name in (".", "..") or "/" in name or "\\" in name:
        problems.append(("name", "INVALID"))
    if out.get("shareType", "user") not in SHARE_TYPES:
        problems.append(("shareType", "INVALID"))
    for key in ("owner", "sender"):
        if key in out and not _domain_of(out[key]):
            problems.append((key, "NOT_A_FEDERATED_ID"))
    return out


def _domain_of(federated_id: str) -> str | None:
    user, sep, domain = federated_id.rpartition("@")
    return normalize_domain(domain) if sep and user else None


def _expiration(body: dict[str, Any], problems: Problems) -> float | None:
    value = body.get("expiration")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(("expiration", "INVALID"))
        return None
    return float(value)


def _webdav(body: dict[str, Any], problems: Problems) -> tuple[str, tuple[str, ...], str]:
    """(shared secret, permissions, uri) of the `webdav` protocol, new (`multi`) or legacy
    (`{name: webdav, options: {sharedSecret, permissions}}`) form."""
    protocol = body.get("protocol")
    if not isinstance(protocol, dict):
        problems.append(("protocol", "MISSING" if protocol is None else "NOT_AN_OBJECT"))
        return "", (), ""
    webdav = protocol.get("webdav")
    if webdav is None and protocol.get("name") == "webdav":
        webdav = protocol.get("options")
    if webdav is None:
        raise NotSupported("PROTOCOL_NOT_SUPPORTED: only webdav is offered")
    if not isinstance(webdav, dict):
        problems.append(("protocol.webdav", "NOT_AN_OBJECT"))
        return "", (), ""
    if webdav.get("requirements"):
        raise NotSupported("REQUIREMENTS_NOT_SUPPORTED: no requirement is supported")
    secret, uri = webdav.get("sharedSecret"), webdav.get("uri", "")
    if not secret and body.get("code"):
        raise NotSupported("CODE_FLOW_NOT_SUPPORTED: send a sharedSecret")
    if not isinstance(secret, str) or not secret or len(secret) > _LIMIT:
        problems.append(("protocol.webdav.sharedSecret", "MISSING" if not secret else "INVALID"))
    if not isinstance(uri, str) or not uri or len(uri) > 2048:
        problems.append(("protocol.webdav.uri", "MISSING" if not uri else "INVALID"))
    permissions = webdav.get("permissions", ["read"])
    if not isinstance(permissions, list) or not permissions \
            or not all(p in PERMISSIONS for p in permissions):
        problems.append(("protocol.webdav.permissions", "INVALID"))
        permissions = []
    return str(secret or ""), tuple(dict.fromkeys(permissions)), str(uri or "")


def _check_uri(uri: str, provider: Provider) -> None:
    """An absolute URI must be on the sender's listed origins; a relative one is a plain path
    below its WebDAV root (no scheme, host or `..`)."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        ok = provider.owns(uri)
    else:
        ok = ".." not in parts.path.split("/") and not uri.startswith("//")
    if not ok or any(ord(c) < 33 for c in uri):
        raise InvalidBody([("protocol.webdav.uri", "NOT_AT_THE_SENDING_PROVIDER")])


async def _recipient(users: UserStore, share_with: str, own_domain: str) -> User:
    user, sep, domain = share_with.rpartition("@")
    if not sep or normalize_domain(domain) != own_domain:
        user = share_with            # a bare user name, or a name containing @ (an e-mail login)
    for lookup in (users.get_by_name, users.get):
        try:
            return await lookup(user)
        except NotFound:
            continue
    raise InvalidBody([("shareWith", "NOT_FOUND")])


def _sender(providers: Providers, fields: dict[str, str]) -> Provider:
    domain = _domain_of(fields["sender"]) or ""
    provider = providers.find(domain)
    if provider is None:
        raise PermissionDenied("PROVIDER_NOT_TRUSTED: the sender's provider is not a trusted "
                               "OCM provider here")
    if _domain_of(fields["owner"]) != provider.domain:
        raise InvalidBody([("owner", "NOT_AT_THE_SENDING_PROVIDER")])
    return provider


async def create_share(request: web.Request, ctx: ServiceContext,
                       providers: Providers) -> web.Response:
    """POST /ocm/shares."""
    body = await read_json(request)
    problems: Problems = []
    fields = _strings(body, problems)
    expiration = _expiration(body, problems)
    secret, permissions, uri = _webdav(body, problems)
    if problems:
        raise InvalidBody(problems)
    if fields["shareType"] not in SUPPORTED_SHARE_TYPES:
        raise NotSupported("SHARE_TYPE_NOT_SUPPORTED: only user shares are received")
    if fields["resourceType"] not in SUPPORTED_RESOURCE_TYPES:
        raise NotSupported("RESOURCE_TYPE_NOT_SUPPORTED: only files and folders are received")
    provider = _sender(providers, fields)
    _check_uri(uri, provider)
    config = request.app[CONFIG_KEY]
    recipient = await _recipient(ctx.users, fields["shareWith"], config.domain)
    incoming = federated.Incoming(
        provider=provider.domain, provider_id=fields["providerId"], name=fields["name"],
        description=fields.get("description", ""), owner=fields["owner"],
        sender=fields["sender"], owner_display_name=fields.get("ownerDisplayName", ""),
        sender_display_name=fields.get("senderDisplayName", ""),
        share_type=fields["shareType"], resource_type=fields["resourceType"],
        permissions=permissions, uri=uri, secret=secret, expiration=expiration)
    try:
        await federated.receive(ctx, recipient, incoming)
    except AlreadyExists:
        raise Conflict("SHARE_ALREADY_EXISTS: this providerId was already shared with the "
                       "user") from None
    answer = {"recipientDisplayName": recipient.display_name} if config.expose_recipient else {}
    return web.json_response(answer, status=201)
