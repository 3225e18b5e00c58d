"""OCM invitations, as oCIS serves them (reva `internal/http/services/sciencemesh/token.go` and
`ocmd/invites.go`; docs/protocol-notes.md §14):

- `/sciencemesh/*`, for our signed-in users: `generate-invite` (200 `{token, description,
  expiration, invite_link}`), `list-invite`, `accept-invite` `{token, providerDomain}` (asks the
  inviter's server, through the one client, with OCM_OCM_INVITE_MANAGER_INSECURE),
  `find-accepted-users` (`[{display_name, idp, user_id, mail}]`), `delete-accepted-user`
  `{idp, user_id}`;
- `POST /ocm/invite-accepted` `{recipientProvider, token, userID, email, name}`, from another
  server, unauthenticated: the recipient's provider must be listed in the providers file.

Errors have reva's body `{"code": ..., "message": ...}` (errors.py): 400 INVALID_PARAMETER,
403 UNTRUSTED_SERVICE, 404 RESOURCE_NOT_FOUND, 409 ALREADY_EXIST, 502 PROVIDER_ERROR.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from aiohttp import web

from ocis_server.domain.errors import (
    BadGateway,
    BadRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import contacts
from ocis_server.storage import AcceptedUser, InviteToken

from .client import OcmClient, PeerError
from .config import CONFIG_KEY, OcmConfig
from .discovery import discover
from .outgoing import _plain
from .providers import Provider, Providers, normalize_domain

MAX_BODY = 16 * 1024


async def read_fields(request: web.Request) -> dict[str, str]:
    """The request's parameters: a JSON object, else a form body, else the query (as reva reads
    them). Values that are not strings count as missing."""
    if (request.content_length or 0) > MAX_BODY:
        raise PayloadTooLarge(f"the request must be at most {MAX_BODY} bytes")
    data = await request.content.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise PayloadTooLarge(f"the request must be at most {MAX_BODY} bytes")
    fields: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json" and data.strip():
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("missing parameters in request: the body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("missing parameters in request: the body is not a JSON object")
        fields.update(body)
    elif data.strip():
        try:
            fields.update(parse_qsl(data.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise BadRequest("missing parameters in request") from None
    return {k: v.strip() for k, v in fields.items() if isinstance(k, str) and isinstance(v, str)}


def _principal(request: web.Request) -> User:
    user: User | None = request.get("principal")
    if user is None:
        raise Unauthenticated("authentication required")
    return user


def token_json(token: InviteToken, config: OcmConfig) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token": token.token, "expiration": int(token.expiration),
        # reva: OCM_MESH_DIRECTORY_URL + "?token=..&providerDomain=..", no directory here
        "invite_link": f"?token={quote(token.token)}&providerDomain={quote(config.domain)}",
    }
    if token.description:
        body["description"] = token.description
    if token.recipient:
        body["recipient"] = token.recipient
    return body


def contact_json(contact: AcceptedUser) -> dict[str, str]:
    return {"display_name": contact.display_name, "idp": contact.provider,
            "user_id": contacts.graph_id(contact), "mail": contact.mail}


def _provider_of(providers: Providers, value: str) -> Provider | None:
    """A listed provider named by its domain or by a URL on one of its origins."""
    if "://" in value:
        return providers.owner_of(value)
    domain = normalize_domain(value)
    return providers.find(domain) if domain else None


class Invitations:
    """The handlers; `client` is the invite manager's outbound client."""

    def __init__(self, ctx: ServiceContext, config: OcmConfig, providers: Providers,
                 client: OcmClient, lifetime: float) -> None:
        self.ctx, self.config, self.providers = ctx, config, providers
        self.client, self.lifetime = client, lifetime

    # --- /sciencemesh (our signed-in users) ---------------------------------------------------

    async def generate(self, request: web.Request) -> web.Response:
        """GET or POST /sciencemesh/generate-invite [description, recipient]."""
        fields = await read_fields(request)
        token = await contacts.generate(self.ctx, _principal(request), lifetime=self.lifetime,
                                        description=fields.get("description", ""),
                                        recipient=fields.get("recipient", ""))
        return web.json_response(token_json(token, self.config))

    async def list_tokens(self, request: web.Request) -> web.Response:
        """GET /sciencemesh/list-invite: the caller's tokens that have not expired."""
        found = await contacts.tokens(self.ctx, _principal(request))
        return web.json_response([token_json(t, self.config) for t in found])

    async def find_accepted(self, request: web.Request) -> web.Response:
        """GET /sciencemesh/find-accepted-users: the caller's federated contacts."""
        found = await contacts.contacts(self.ctx, _principal(request))
        return web.json_response([contact_json(c) for c in found])

    async def delete_accepted(self, request: web.Request) -> web.Response:
        """DELETE (or POST) /sciencemesh/delete-accepted-user {idp, user_id}."""
        user = _principal(request)
        fields = await read_fields(request)
        idp, user_id = fields.get("idp", ""), fields.get("user_id", "")
        if not idp or not user_id:
            raise BadRequest("missing parameters in request: idp and user_id")
        address = contacts.address_of_graph_id(user_id) or f"{user_id}@{idp}"
        contact = await contacts.find(self.ctx, user, address)
        if contact is None or contact.provider.lower() != idp.lower():
            raise NotFound("accepted user not found")
        await contacts.forget(self.ctx, user, contact.provider, contact.remote_id)
        return web.Response(status=200)

    async def accept(self, request: web.Request) -> web.Response:
        """POST /sciencemesh/accept-invite {token, providerDomain}: tell the inviter's server
        that the caller accepts; on success each is the other's contact."""
        user = _principal(request)
        fields = await read_fields(request)
        token, domain = fields.get("token", ""), fields.get("providerDomain", "")
        if not token or not domain:
            raise BadRequest("token and providerDomain must not be null")
        if normalize_domain(domain) == self.config.domain:
            raise contacts.KnownUser("user already known")      # oCIS: an invitation of this instance
        provider = _provider_of(self.providers, domain)
        if provider is None:
            raise PermissionDenied(f"provider not trusted: {_plain(domain)!r} is not listed in "
                                   f"{self.providers.path.name}")
        answer = await self._forward(provider, token, user)
        contact = await contacts.remember(
            self.ctx, user, provider.domain, _string(answer, "userID", provider),
            _plain(answer.get("name")), _plain(answer.get("email")))
        return web.json_response(contact_json(contact))

    async def _forward(self, provider: Provider, token: str, user: User) -> dict[str, Any]:
        found = await discover(self.client, provider)
        body = {"recipientProvider": self.config.domain, "token": token, "userID": user.username,
                "email": user.email, "name": user.display_name}
        response = await self.client.request(provider, "POST",
                                             f"{found.endpoint}/invite-accepted", body)
        answer = response.json() if response.body.strip() else {}
        if response.status == 200 and isinstance(answer, dict):
            return answer
        reason = _plain(answer.get("message")) if isinstance(answer, dict) else ""
        if response.status == 404:
            raise NotFound("token not found")
        if response.status == 400:
            raise BadRequest(f"token not valid{': ' + reason if reason else ''}")
        if response.status == 409:
            raise contacts.KnownUser("user already known")
        if response.status in (401, 403):
            raise PermissionDenied(f"{provider.domain} does not trust this server: "
                                   f"{reason or 'remote service not trusted'}")
        raise BadGateway(f"{provider.domain} answered {response.status}: "
                         f"{reason or 'no reason given'}")

    # --- /ocm/invite-accepted (another server) -----------------------------------------------

    async def invite_accepted(self, request: web.Request) -> web.Response:
        """POST /ocm/invite-accepted: a user at a listed provider accepted one of our tokens."""
        fields = await read_fields(request)
        token, user_id = fields.get("token", ""), fields.get("userID", "")
        recipient = fields.get("recipientProvider", "")
        if not token or not user_id or not recipient:
            raise BadRequest("token, userID and recipientProvider must not be null")
        domain = normalize_domain(recipient)
        provider = self.providers.find(domain) if domain else None
        if provider is None or (self.config.verify_hostname
                                and not await _from_provider(request, provider)):
            raise PermissionDenied("provider not trusted")
        owner, _ = await contacts.redeem(self.ctx, token, provider.domain, user_id,
                                         fields.get("name", ""), fields.get("email", ""))
        return web.json_response({"userID": owner.username, "email": owner.email,
                                  "name": owner.display_name})


async def _from_provider(request: web.Request, provider: Provider) -> bool:
    """Whether the caller's address is one the provider's listed hosts resolve to (reva's
    `verify_request_hostname`). A name that does not resolve counts as no address."""
    remote = request.remote or ""
    loop = asyncio.get_running_loop()
    for listed in provider.origins:
        parts = urlsplit(listed)
        try:
            found = await asyncio.wait_for(
                loop.getaddrinfo(parts.hostname or "", parts.port, type=socket.SOCK_STREAM), 5)
        except (OSError, asyncio.TimeoutError):
            continue
        if any(info[4][0] == remote for info in found):
            return True
    return False


def _string(answer: dict[str, Any], key: str, provider: Provider) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 255 \
            or not value.isprintable():
        raise BadGateway(f"{provider.domain} accepted the invitation but sent no valid {key}")
    return value.strip()


__all__ = ["Invitations", "PeerError", "read_fields"]
