"""OCM invitations and federated contacts, as in oCIS (reva's invite manager): a user makes an
invitation token and passes it on as `<token>@<our domain>`; a user of another listed OCM server
accepts it there, that server tells us (`POST /ocm/invite-accepted`), and from then on each is
the other's contact ("accepted user"). With OCM_REQUIRE_INVITE (the default; oCIS always
requires it) a federated share needs that contact: the sharer must have the recipient among
their contacts (`require_contact`), and the recipient's server accepts a share only from a
sender among the recipient's contacts (`require_sender`, reva `ocmd/shares.go`: 401 `no
accepted invite for this sender`).

Rules (oCIS acceptance tests apiOcm/acceptInvitation, createInvitation, searchFederationUsers):
- a token lives OCM_OCM_INVITE_MANAGER_TOKEN_EXPIRATION (24h) and may be redeemed by several
  remote users until then (two users can accept one invitation); the same remote user twice is
  `user already known` (409), an expired token `token not valid` (400), an unknown one `token
  not found` (404);
- expired tokens are not listed;
- a contact is keyed by (our user, provider domain, remote user id); its federated address is
  `<remote id>@<provider>`, its Graph id the base64 of that address (oCIS's federated user id).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid

from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.identity import User
from ocis_server.storage import AcceptedUser, InviteToken

from .rules import SharingContext

# oCIS rejects `user.example.com`, `user@.com`, `@domain.com`, `user@domain..com` (400).
_MAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_LIMIT = 255


class TokenExpired(BadRequest):
    """The invitation token has expired."""


class KnownUser(Conflict):
    """The remote user is a contact already (oCIS: 409 `user already known`)."""


async def _add(ctx: SharingContext, contact: AcceptedUser) -> AcceptedUser:
    try:
        return await ctx.storage.add_accepted_user(contact)
    except AlreadyExists:
        raise KnownUser("user already known") from None


def _text(value: str, what: str, limit: int = _LIMIT) -> str:
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise BadRequest(f"{what} is too long or contains control characters")
    return value


async def generate(ctx: SharingContext, user: User, *, lifetime: float, description: str = "",
                   recipient: str = "") -> InviteToken:
    """A new invitation token of `user`, valid for `lifetime` seconds. BadRequest for a
    recipient that is not an e-mail address."""
    recipient = _text(recipient, "recipient")
    if recipient and not _MAIL.match(recipient):
        raise BadRequest(f"{recipient!r} is not a valid e-mail address")
    now = time.time()
    # A UUID as reva's invite manager makes them: 122 random bits, and never a leading '-' that
    # `ocis invite accept TOKEN` would read as an option (token_urlsafe gave one in 64).
    token = InviteToken(token=str(uuid.uuid4()), user_id=user.id,
                        description=_text(description, "description", 4096),
                        recipient=recipient, expiration=now + lifetime, ctime=now)
    return await ctx.storage.create_invite_token(token)


async def tokens(ctx: SharingContext, user: User) -> list[InviteToken]:
    """The user's invitation tokens that have not expired, oldest first."""
    now = time.time()
    return [t for t in await ctx.storage.invite_tokens(user.id) if not t.expired(now)]


async def redeem(ctx: SharingContext, token: str, provider: str, remote_id: str,
                 display_name: str, mail: str) -> tuple[User, AcceptedUser]:
    """A remote user at `provider` accepted `token`: they become a contact of the token's owner.
    The owner and the new contact. NotFound `token not found`, TokenExpired `token not valid`,
    KnownUser `user already known`."""
    try:
        invite = await ctx.storage.invite_token(token)
    except NotFound:
        raise NotFound("token not found") from None
    if invite.expired():
        raise TokenExpired("token not valid")
    owner = await ctx.users.get(invite.user_id)
    contact = AcceptedUser(user_id=owner.id, provider=provider,
                           remote_id=_text(remote_id, "userID"),
                           display_name=_text(display_name, "name"), mail=_text(mail, "email"),
                           ctime=time.time())
    return owner, await _add(ctx, contact)


async def remember(ctx: SharingContext, user: User, provider: str, remote_id: str,
                   display_name: str, mail: str) -> AcceptedUser:
    """After `user` accepted an invitation at `provider`: its inviter becomes their contact.
    KnownUser `user already known`."""
    contact = AcceptedUser(user_id=user.id, provider=provider,
                           remote_id=_text(remote_id, "userID"),
                           display_name=_text(display_name, "name"), mail=_text(mail, "email"),
                           ctime=time.time())
    return await _add(ctx, contact)


async def contacts(ctx: SharingContext, user: User) -> list[AcceptedUser]:
    """The remote users `user` exchanged an invitation with, oldest first."""
    return await ctx.storage.accepted_users(user.id)


async def find(ctx: SharingContext, user: User, address: str) -> AcceptedUser | None:
    """The contact of `user` with the federated address `<remote id>@<provider>` (the provider
    compared without case), if any."""
    remote_id, _, provider = address.rpartition("@")
    for contact in await contacts(ctx, user):
        if contact.remote_id == remote_id and contact.provider.lower() == provider.lower():
            return contact
    return None


async def require_contact(ctx: SharingContext, user: User, address: str) -> None:
    """With OCM_REQUIRE_INVITE: PermissionDenied unless `address` is a contact of `user`."""
    if ctx.config.ocm_require_invite and await find(ctx, user, address) is None:
        raise PermissionDenied(
            f"{address} is not one of {user.username}'s federated contacts: a federated share "
            "needs an accepted invitation first (`ocis invite create`, then `ocis invite accept "
            "TOKEN@DOMAIN` on the other server; OCM_REQUIRE_INVITE)")


async def require_sender(ctx: SharingContext, recipient: User, sender: str) -> None:
    """With OCM_REQUIRE_INVITE: Unauthenticated (401, as reva) unless the share's `sender` is a
    contact of its `recipient`."""
    if ctx.config.ocm_require_invite and await find(ctx, recipient, sender) is None:
        raise Unauthenticated("no accepted invite for this sender")


async def forget(ctx: SharingContext, user: User, provider: str, remote_id: str) -> None:
    """Remove a contact of `user`. NotFound when there is none."""
    await ctx.storage.delete_accepted_user(user.id, provider, remote_id)


def graph_id(contact: AcceptedUser) -> str:
    """oCIS's id of a federated user: base64 of `<remote id>@<provider>`."""
    return base64.b64encode(contact.address.encode()).decode("ascii")


def address_of_graph_id(value: str) -> str | None:
    """The federated address a Graph id of a federated user stands for, or None."""
    try:
        text = base64.b64decode(value.encode("ascii"), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    user, sep, provider = text.rpartition("@")
    return text if sep and user and provider and text.isprintable() else None

