"""Project space membership (OCS share types 7/8, Graph `root/invite` and `root/permissions`):
only a space's Managers change its members; the roles are Space Viewer, Space Editor and Manager;
a membership may expire. A project space always keeps a Manager whose membership never ends:
its last such Manager may not leave, be demoted or get an expiry (oCIS issue 11205). Every change
here asks the storage to hold that rule inside the write transaction (`keep_manager`, checked by
`storage/ops.py` `_keep_a_manager`), so two Managers demoting each other cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocis_server.auth import authz
from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.storage import Space

from .events import Changed, Event, EventKind, publishes
from .rules import SharingContext, require_future

# unified role id -> the space role the storage keeps in `members` (authz ROLE_*)
MEMBER_ROLE = {role.id: name for name, role in roles.SPACE_ROLE_OF_MEMBER.items()}


@dataclass(frozen=True, slots=True)
class Member:
    principal_id: str          # a user or group id
    role: str                  # authz ROLE_VIEWER | ROLE_EDITOR | ROLE_MANAGER
    expires: float | None      # unix seconds; None = never


def member_role(role: roles.Role) -> str:
    """The space role a unified role stands for; 400 for a role that is not a space role."""
    if role.id not in MEMBER_ROLE or not role.applies_to(roles.ROOT):
        raise BadRequest("role not applicable to this resource")
    return MEMBER_ROLE[role.id]


def require_manager(access: Access) -> Space:
    """The project space whose members the caller may change (its Managers only)."""
    space = access.space
    if space.type != "project":
        raise BadRequest("only project spaces have members")
    if not access.can_manage:
        raise PermissionDenied("only managers of the space may change its members")
    return space


async def space_of(ctx: SharingContext, user: User, space_id: str) -> Access:
    """The caller's access to a space, their groups' memberships counted; NotFound if none."""
    return await authz.member_access(ctx.storage, ctx.users, user, space_id)


def _event(kind: EventKind, user: User, space: Space, principal_id: str) -> Event:
    return Event(kind, user.id, space.id, space.id, principal_id)


@publishes
async def add(ctx: SharingContext, user: User, access: Access, role: roles.Role,
              principals: Sequence[str], expires: float | None) -> Changed[list[Member]]:
    """Add (or set anew) members with one role and expiry."""
    space = require_manager(access)
    name = member_role(role)
    require_future(expires)
    current = await ctx.storage.members(space.id)
    out, events = [], []
    for principal_id in dict.fromkeys(principals):
        await ctx.storage.set_member(space.id, principal_id, name, keep_manager=True,
                                     expires=expires)
        out.append(Member(principal_id, name, expires))
        kind: EventKind = "SpaceShareUpdated" if principal_id in current else "SpaceShared"
        events.append(_event(kind, user, space, principal_id))
    return Changed(out, tuple(events))


async def listed(ctx: SharingContext, space: Space) -> list[Member]:
    """The live members of a project space (a personal space has none), by principal id."""
    if space.type != "project":
        return []
    members = await ctx.storage.members(space.id)
    expiry = await ctx.storage.member_expirations(space.id)
    return [Member(pid, role, expiry.get(pid)) for pid, role in sorted(members.items())]


async def member(ctx: SharingContext, space: Space, principal_id: str) -> Member:
    for found in await listed(ctx, space):
        if found.principal_id == principal_id:
            return found
    raise NotFound("permission not found")


@publishes
async def update(ctx: SharingContext, user: User, access: Access, principal_id: str, *,
                 role: roles.Role | None = None, set_expiry: bool = False,
                 expires: float | None = None) -> Changed[Member]:
    """A member's new role and/or (with `set_expiry`) expiry, None: never; the rest stays."""
    space = require_manager(access)
    current = await member(ctx, space, principal_id)
    if role is None and not set_expiry:
        raise BadRequest("nothing to update: give roles or expirationDateTime")
    name = current.role if role is None else member_role(role)
    until = require_future(expires) if set_expiry else current.expires
    await ctx.storage.set_member(space.id, principal_id, name, keep_manager=True,
                                 expires=until)
    return Changed(Member(principal_id, name, until),
                   (_event("SpaceShareUpdated", user, space, principal_id),))


@publishes
async def remove(ctx: SharingContext, user: User, access: Access,
                 principal_id: str) -> Changed[None]:
    space = require_manager(access)
    await member(ctx, space, principal_id)
    await ctx.storage.set_member(space.id, principal_id, None, keep_manager=True)
    return Changed(None, (_event("SpaceUnshared", user, space, principal_id),))
