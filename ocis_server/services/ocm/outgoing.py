"""The sending side of an OCM share: tell the recipient's server, through the one client, that
one of our users shared something with `user@domain` (OCM API `POST /shares`, the `multi`
protocol form). The recipient's domain must be listed in the providers file; its discovery is
fetched and validated first, and the share goes to the `endPoint` it names, which must lie on a
listed origin of that provider (client.py refuses anything else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import OcmClient, PeerError, PeerResponse
from .config import OcmConfig
from .discovery import discover
from .providers import Providers

_SHOWN = 200          # characters of a peer's message or name we pass on (as plain text)


@dataclass(frozen=True, slots=True)
class NewShare:
    """What we send (OCM API `NewShare`)."""

    share_with: str               # the recipient's federated address, `marie@paris.test`
    name: str
    provider_id: str              # our id of the shared resource, unique per share
    owner: str                    # federated ids at our domain: `einstein@zurich.test`
    sender: str
    owner_display_name: str
    sender_display_name: str
    resource_type: str            # file | folder
    permissions: tuple[str, ...]  # read, write, share
    secret: str                   # the shared secret our `/dav/ocm/` checks
    uri: str                      # absolute WebDAV URI of the resource at our server
    description: str = ""
    expiration: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "shareWith": self.share_with, "name": self.name, "description": self.description,
            "providerId": self.provider_id, "owner": self.owner, "sender": self.sender,
            "ownerDisplayName": self.owner_display_name,
            "senderDisplayName": self.sender_display_name, "shareType": "user",
            "resourceType": self.resource_type,
            "protocol": {"name": "multi", "webdav": {
                "sharedSecret": self.secret, "permissions": list(self.permissions),
                "uri": self.uri}},
        }
        if self.expiration is not None:
            body["expiration"] = self.expiration
        return body


def share_client(config: OcmConfig, providers: Providers) -> OcmClient:
    """The client for sending shares (OCM_OCM_SHARE_PROVIDER_INSECURE and the client bounds)."""
    return OcmClient(providers, insecure=config.share_insecure,
                     connect_timeout=config.connect_timeout, timeout=config.timeout,
                     max_response_size=config.max_response_size)


def _plain(value: object) -> str:
    """A peer's string as short printable text (no control characters; renderers escape it)."""
    text = value if isinstance(value, str) else ""
    return "".join(c for c in text if c.isprintable())[:_SHOWN]


def _answer(response: PeerResponse) -> object:
    try:
        return response.json() if response.body.strip() else {}
    except PeerError:
        return {}


def _refusal(domain: str, status: int, answer: object, what: str = "the share") -> PeerError:
    body = answer if isinstance(answer, dict) else {}
    reason = _plain(body.get("message")) or "no reason given"
    fields = body.get("validationErrors")
    if isinstance(fields, list):
        named = [f"{_plain(f.get('name'))}: {_plain(f.get('message'))}"
                 for f in fields[:10] if isinstance(f, dict)]
        reason += f" ({'; '.join(named)})" if named else ""
    return PeerError(f"{domain} refused {what} ({status}): {reason}")


async def send_share(client: OcmClient, share: NewShare) -> str:
    """Send `share` to the server of its recipient; the recipient's display name when the peer
    tells it (else ""). UnknownProvider when the recipient's domain is not listed (naming the
    providers file), PeerError when the peer cannot be reached or refuses the share."""
    _, _, domain = share.share_with.rpartition("@")
    provider = client.providers.get(domain)
    found = await discover(client, provider)
    if found.share_types and "user" not in found.share_types:
        raise PeerError(f"{provider.domain} does not accept shares with users")
    response = await client.request(provider, "POST", f"{found.endpoint}/shares", share.body())
    answer = _answer(response)
    if response.status != 201:
        raise _refusal(provider.domain, response.status, answer)
    return _plain(answer.get("recipientDisplayName")) if isinstance(answer, dict) else ""


async def send_unshared(client: OcmClient, domain: str, provider_id: str, secret: str,
                        resource_type: str = "file") -> None:
    """Tell the server at `domain` that our share `provider_id` is gone (`SHARE_UNSHARED`, with
    the share's secret as the proof that we made it). PeerError when it cannot be told."""
    provider = client.providers.get(domain)
    found = await discover(client, provider)
    if "/notifications" not in found.capabilities:
        raise PeerError(f"{provider.domain} takes no OCM notifications")
    body = {"notificationType": "SHARE_UNSHARED", "resourceType": resource_type,
            "providerId": provider_id, "notification": {"sharedSecret": secret}}
    response = await client.request(provider, "POST", f"{found.endpoint}/notifications", body)
    if response.status != 201:
        raise _refusal(provider.domain, response.status, _answer(response), "the notification")


CHANGE_PERMISSION = "SHARE_CHANGE_PERMISSION"    # reva's name (ocmshareprovider `notify`)


async def send_permissions(client: OcmClient, share: NewShare) -> None:
    """Tell the recipient's server the new permissions of our share (`SHARE_CHANGE_PERMISSION`
    in reva's shape: the grantee and the protocols), with the shared secret as the proof that
    we made it. PeerError when it cannot be told."""
    user, _, domain = share.share_with.rpartition("@")
    provider = client.providers.get(domain)
    found = await discover(client, provider)
    if "/notifications" not in found.capabilities:
        raise PeerError(f"{provider.domain} takes no OCM notifications")
    webdav = {"sharedSecret": share.secret, "permissions": list(share.permissions),
              "uri": share.uri}
    body = {"notificationType": CHANGE_PERMISSION, "resourceType": share.resource_type,
            "providerId": share.provider_id,
            "notification": {"sharedSecret": share.secret, "grantee": user,
                             "protocols": {"name": "multi", "options": {}, "webdav": webdav}}}
    response = await client.request(provider, "POST", f"{found.endpoint}/notifications", body)
    if response.status != 201:
        raise _refusal(provider.domain, response.status, _answer(response), "the notification")
