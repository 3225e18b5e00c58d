"""Public links as a credential: link types and their OCS bits, opening a token, checking a link
password (throttled per token and client address) and the access a link grants. Every protocol serving links
(/dav/public-files, /s landing pages, OCS tokeninfo) asks here.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict

from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound, Unauthenticated
from ocis_server.identity.passwords import hash_password, verify_password
from ocis_server.storage import Link, Node, Storage

from .authz import ROLE_EDITOR, ROLE_VIEWER, Access
from .basic import parse_basic
from .logins import LoginThrottle
from .throttle import address_key

# Link types and their OCS bits are the domain's (domain/roles.py).
bits_for = roles.link_bits
type_for_bits = roles.link_type_for_bits
THROTTLE_SOURCE = "link"
PUBLIC_USER = "public"         # HTTP Basic user name carrying a link password
_VERIFIED_MAX = 256


async def hash_link_password(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def open_link(storage: Storage, token: str) -> tuple[Link, Node]:
    """The live link of a token and its node; NotFound for unknown, expired or trashed."""
    if not token or len(token) > 128:
        raise NotFound("link not found")
    link = await storage.link_by_token(token)
    if link.expired():
        raise NotFound("link not found")
    node = await storage.get_node(link.node_id)
    return link, node


class LinkPasswords:
    """Checks link passwords through the login throttle every password path shares (logins.py),
    the token standing for the account (`link:<token>`): a client address guessing a link gets
    429, everyone else at most a short wait. Right answers are remembered by (token, hash, sha256
    of the password), so a changed password takes effect on the next request while a sync client
    is not slowed by scrypt every time."""

    def __init__(self, throttle: LoginThrottle) -> None:
        self.throttle = throttle
        self._ok: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()

    async def check(self, link: Link, password: str | None, *, address: str) -> None:
        """`address`: the client's (throttle.client_address)."""
        if link.password_hash is None:
            return
        key, origin = f"link:{link.token}", address_key(address)
        # Before the memo of right answers: a locked client learns nothing, not even a right one.
        await self.throttle.admit(key, origin)
        if password is None:
            raise Unauthenticated("this link needs a password")
        digest = hashlib.sha256(password.encode()).digest()
        memo = (link.token, link.password_hash, digest)
        if memo in self._ok:
            self._ok.move_to_end(memo)
            self.throttle.success(key, origin, source=THROTTLE_SOURCE)
            return
        if not await asyncio.to_thread(verify_password, password, link.password_hash):
            await self.throttle.failed(key, origin, source=THROTTLE_SOURCE)
            raise Unauthenticated("wrong link password")
        self.throttle.success(key, origin, source=THROTTLE_SOURCE)
        self._ok[memo] = None
        while len(self._ok) > _VERIFIED_MAX:
            self._ok.popitem(last=False)


def basic_password(header: str | None) -> str | None:
    """The password of `Authorization: Basic public:<pw>`; None for anything else."""
    if not header or header.lstrip()[:6].lower() != "basic ":
        return None
    try:
        name, password = parse_basic(header)
    except Unauthenticated:
        return None
    return password if name == PUBLIC_USER else None


def is_public_basic(header: str | None) -> bool:
    return basic_password(header) is not None


async def link_access(storage: Storage, link: Link) -> Access:
    """What the link lets anyone holding it do; NotFound when the space is disabled."""
    space = await storage.space_info(link.space_id)
    if space.disabled:
        raise NotFound("link not found")
    writes = roles.UPDATE | roles.CREATE | roles.DELETE
    role = ROLE_EDITOR if link.permissions & writes else ROLE_VIEWER
    # Access reads bits 0 as "the role's bits": an internal link grants nothing at all.
    return Access(space, role, link.permissions or roles.DENIED_BITS)
