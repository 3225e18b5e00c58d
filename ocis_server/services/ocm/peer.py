"""`OcmPeer`: the sharing layer's way to other OCM servers (sharing/federated_sent.py
`FederationPeer`). The runtime hands one to every service through the context when OCM is on,
so the OCS and Graph front ends can share with `marie@paris.test` without importing this
service. Each call opens the one bounded client (outgoing.py) and closes it again: shares are
made rarely, and nothing is left open between them.
"""

from __future__ import annotations

from ocis_server.services.context import ServiceContext
from ocis_server.sharing.federated_sent import Offer
from ocis_server.storage import OcmShare

from ocis_server.domain.errors import BadRequest

from .client import OcmClient, PeerRefused
from .config import OcmConfig
from .outgoing import NewShare, send_permissions, send_share, send_unshared, share_client
from .providers import Providers

def new_share(offer: Offer) -> NewShare:
    return NewShare(
        share_with=offer.share_with, name=offer.name, provider_id=offer.provider_id,
        owner=offer.owner, sender=offer.sender, owner_display_name=offer.owner_display_name,
        sender_display_name=offer.sender_display_name, resource_type=offer.resource_type,
        permissions=offer.permissions, secret=offer.secret, uri=offer.uri,
        expiration=None if offer.expiration is None else int(offer.expiration))


class OcmPeer:
    """Implements `FederationPeer` over the providers file and the outbound client."""

    def __init__(self, config: OcmConfig) -> None:
        self.config = config
        self.providers = Providers(config.providers_file)

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> OcmPeer:
        return cls(OcmConfig.from_context(ctx))

    @property
    def domain(self) -> str:
        return self.config.domain

    @property
    def public_url(self) -> str:
        return self.config.public_url

    def check_listed(self, domain: str) -> None:
        self.providers.get(domain)

    def provider_of(self, url: str) -> str | None:
        found = self.providers.owner_of(url)
        return found.domain if found else None

    def storage_provider_of(self, url: str) -> str:
        """The domain of the listed provider a WebDAV `url` of another server lies on, checked
        as the forwarding client checks it (OCM_OCM_STORAGE_PROVIDER_INSECURE); BadRequest
        naming the providers file or the scheme rule otherwise."""
        provider = self.providers.owner_of(url)
        if provider is None or provider.domain == self.domain.lower():
            raise BadRequest(f"{url[:200]!r} is not on a provider listed in the providers file "
                             f"({self.providers.path.name})")
        try:
            OcmClient(self.providers, insecure=self.config.storage_insecure).check(provider, url)
        except PeerRefused as exc:
            raise BadRequest(str(exc)) from None
        return provider.domain

    def _client(self) -> OcmClient:
        return share_client(self.config, self.providers)

    async def send_share(self, offer: Offer) -> str:
        client = self._client()
        try:
            return await send_share(client, new_share(offer))
        finally:
            await client.close()

    async def send_permissions(self, offer: Offer) -> None:
        client = self._client()
        try:
            await send_permissions(client, new_share(offer))
        finally:
            await client.close()

    async def send_unshared(self, share: OcmShare, resource_type: str) -> None:
        client = self._client()
        try:
            await send_unshared(client, share.provider, share.id, share.secret, resource_type)
        finally:
            await client.close()
