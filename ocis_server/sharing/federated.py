"""Federated shares received over OCM: what another OCM server shares with one of our users
becomes a registry entry for that user (provider, remote resource id, shared secret, WebDAV URI
at the sharer; `storage.RemoteShare`), never a copy. It starts pending; its recipient accepts or
declines it like any received share. The OCM service checks the sender against the providers
file and parses the protocol; the rules of what is recorded live here (docs/federation.md).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound, PermissionDenied
from ocis_server.domain.ids import OCM_STORAGE_ID, new_id
from ocis_server.identity import User
from ocis_server.storage import RemoteShare

from . import contacts
from .events import Changed, Event, publishes
from .rules import SharingContext, auto_accepts_federated, require_future


@dataclass(frozen=True, slots=True)
class Incoming:
    """A share as the sending server describes it (already validated by the protocol)."""

    provider: str                  # the sender's OCM domain (listed in the providers file)
    provider_id: str
    name: str
    description: str
    owner: str
    sender: str
    owner_display_name: str
    sender_display_name: str
    share_type: str
    resource_type: str
    permissions: tuple[str, ...]
    uri: str
    secret: str
    expiration: float | None


def _event(share: RemoteShare) -> Event:
    """Its actor is the remote sender's address; its grantee the local recipient."""
    return Event("OCMCoreShareCreated", share.sender, "", "", share.id, "user", share.user_id)


@publishes
async def receive(ctx: SharingContext, recipient: User, incoming: Incoming) -> Changed[RemoteShare]:
    """Record `incoming` for `recipient`, pending until they accept it (accepted at once when
    they set `auto-accept-shares` themselves, `rules.auto_accepts_federated`). AlreadyExists when this
    provider already sent this resource to them; BadRequest for an expiry in the past;
    Unauthenticated (OCM_REQUIRE_INVITE) when the sender is not one of the recipient's contacts."""
    require_future(incoming.expiration)
    await contacts.require_sender(ctx, recipient, incoming.sender)
    accept = await auto_accepts_federated(ctx, recipient.id)
    share = RemoteShare(
        id=f"ocm:{new_id()}", provider=incoming.provider, provider_id=incoming.provider_id,
        user_id=recipient.id, name=incoming.name, description=incoming.description,
        owner=incoming.owner, sender=incoming.sender,
        owner_display_name=incoming.owner_display_name,
        sender_display_name=incoming.sender_display_name, share_type=incoming.share_type,
        resource_type=incoming.resource_type, permissions=incoming.permissions, uri=incoming.uri,
        secret=incoming.secret, expiration=incoming.expiration,
        state="accepted" if accept else "pending",
        ctime=time.time())
    created = await ctx.storage.create_remote_share(share)
    if not accept:
        return Changed(created, (_event(created),))
    # accepted: what follows accepted shares (the sharer's event stream) starts too
    return Changed(created, (_event(created), Event("ReceivedShareUpdated", recipient.id, "",
                                                    "", created.id)))


async def received(ctx: SharingContext, user: User) -> list[RemoteShare]:
    """The federated shares the user received and that have not expired, oldest first."""
    return [s for s in await ctx.storage.remote_shares(user.id) if not s.expired()]


async def one(ctx: SharingContext, user: User, share_id: str) -> RemoteShare:
    """The user's federated share with this id; NotFound for anyone else's (or none)."""
    try:
        share = await ctx.storage.get_remote_share(share_id)
    except NotFound:
        share = None
    if share is None or share.user_id != user.id:
        raise NotFound("share not found")
    return share


@publishes
async def answer(ctx: SharingContext, user: User, share_id: str,
                 state: str) -> Changed[RemoteShare]:
    """Accept or decline a federated share the user received (a declined one stays listed and
    may be accepted again, as a local received share)."""
    await one(ctx, user, share_id)
    share = await ctx.storage.set_remote_share_state(share_id, state)
    return Changed(share, (Event("ReceivedShareUpdated", user.id, "", "", share.id),))


@publishes
async def remove(ctx: SharingContext, user: User, share_id: str) -> Changed[RemoteShare]:
    """Drop the entry from the user's registry: only the record here goes; the data, which was
    never here, stays untouched at the sharer's."""
    share = await one(ctx, user, share_id)
    await ctx.storage.delete_remote_share(share.id)
    return Changed(share, (Event("ReceivedShareUpdated", user.id, "", "", share.id),))


def permission_bits(share: RemoteShare) -> int:
    """The OCS bits of the OCM permissions (reva `RoleFromResourcePermissions`): `read` is 1,
    `write` adds update, create and delete (update alone on a file), `share` adds 16."""
    bits = roles.READ if "read" in share.permissions else 0
    if "write" in share.permissions:
        bits |= roles.UPDATE if share.resource_type == "file" else 15
    if "share" in share.permissions:
        bits |= roles.SHARE
    return bits


def role(share: RemoteShare) -> roles.Role | None:
    """The unified role the share gives its recipient (viewer, editor, file editor), None for a
    combination no role has."""
    kind = roles.FILE if share.resource_type == "file" else roles.FOLDER
    return roles.role_for_bits(permission_bits(share) & ~roles.SHARE, kind)


def webdav_permissions(share: RemoteShare) -> str:
    """`oc:permissions` of the remote space's mount point (reva letters): shared and mounted
    (`SM`), re-shareable `R`, and with `write` delete, rename, move and create (`DNVCK` on a
    folder) or write (`DNVW` on a file). The sharer enforces them; these only tell clients."""
    letters = "SM" + ("R" if "share" in share.permissions else "")
    if "write" in share.permissions:
        letters += "DNVW" if share.resource_type == "file" else "DNVCK"
    return letters


# The last root ETag each sharer gave for a remote space (share id -> ETag), kept by the remote
# space gateway as it asks (services/ocm/forwarding.py): the share jail's listing renders it,
# so a change at the sharer changes the jail's ETag too (sync clients poll it).
_LAST_ETAG: dict[str, str] = {}


def remember_etag(share_id: str, etag: str) -> None:
    if len(_LAST_ETAG) > 65536:
        _LAST_ETAG.clear()
    _LAST_ETAG[share_id] = etag


def last_etag(share_id: str) -> str:
    return _LAST_ETAG.get(share_id, "")


def is_federated(share_id: str) -> bool:
    """A federated share's id (`ocm:<uuid>`), as opposed to a local share's."""
    return share_id.startswith("ocm:")


def space_id(share: RemoteShare) -> str:
    """The remote space's id in the registry: `<OCM storage id>$<uuid>`, as oCIS forms it from
    its OCM storage provider's id and the received share's id (reva `ReceivedOCMShare2ShareData`)."""
    return f"{OCM_STORAGE_ID}${share.id.removeprefix('ocm:')}"


def share_id_of_space(space: str) -> str | None:
    """The federated share id a remote space id names (`space_id`'s inverse); None for any other
    space id."""
    storage, sep, rest = space.partition("$")
    uuid = rest.partition("!")[0]
    if storage != OCM_STORAGE_ID or not sep or not uuid or "/" in uuid:
        return None
    return f"ocm:{uuid}"


async def accepted(ctx: SharingContext, user: User) -> list[RemoteShare]:
    """The user's accepted federated shares: the remote spaces of their registry."""
    return [s for s in await received(ctx, user) if s.state == "accepted"]


async def _proven(ctx: SharingContext, provider_id: str, secret: str,
                  trusted: Callable[[str], bool]) -> list[RemoteShare]:
    """The entries of share `provider_id` whose secret is `secret`, from providers still
    `trusted` (listed); PermissionDenied when none, for an unknown share alike."""
    found = [s for s in await ctx.storage.remote_shares_of(provider_id)
             if trusted(s.provider) and hmac.compare_digest(s.secret.encode(), secret.encode())]
    if not found:
        raise PermissionDenied("NOT_AUTHORIZED: no such share with this secret")
    return found


@publishes
async def permissions_changed(ctx: SharingContext, provider_id: str, secret: str,
                              permissions: tuple[str, ...],
                              trusted: Callable[[str], bool]) -> Changed[list[RemoteShare]]:
    """A provider changed the permissions of its share `provider_id`: the registry entries show
    the new ones (the provider enforces them at its WebDAV; this keeps the listing true). The
    same proof as `unshared`."""
    changed = [await ctx.storage.set_remote_share_permissions(s.id, permissions)
               for s in await _proven(ctx, provider_id, secret, trusted)]
    return Changed(changed, tuple(Event("ReceivedShareUpdated", s.sender, "", "", s.id)
                                  for s in changed))


@publishes
async def unshared(ctx: SharingContext, provider_id: str, secret: str,
                   trusted: Callable[[str], bool]) -> Changed[list[RemoteShare]]:
    """A provider removed its share `provider_id`: the registry entries it made for it go (the
    data was never here). Only a caller holding the share's secret may say so, and only for a
    provider that is still `trusted` (listed): PermissionDenied otherwise, and for an unknown
    share alike (nothing to probe)."""
    gone = await _proven(ctx, provider_id, secret, trusted)
    for share in gone:
        await ctx.storage.delete_remote_share(share.id)
    return Changed(gone, tuple(Event("ShareRemoved", s.sender, "", "", s.id) for s in gone))
