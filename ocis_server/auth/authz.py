"""Deny-by-default authorization: the one place that says what a principal may do on a node, and
what a system role (Admin, Space Admin, User, User Light) allows beyond its grants.

Grants come from the space (owner, membership roles) and from user/group shares on the node or
any ancestor (groups from the user store), minus expired shares and disabled spaces. Every
protocol asks `space_access` / `node_access` / `share_access`; none re-implements it.
Unauthorized looks like not found (404) so ids do not leak existence.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound, PermissionDenied
from ocis_server.events import Access as GrantsAt
from ocis_server.identity import User, UserStore
from ocis_server.storage import Node, ReceivedShare, Share, Space, Storage

# Space roles as oCIS names them (unified roles Space Viewer / Space Editor / Manager).
ROLE_VIEWER = "viewer"
ROLE_EDITOR = "editor"
ROLE_MANAGER = "manager"
_RANK = {ROLE_VIEWER: 1, ROLE_EDITOR: 2, ROLE_MANAGER: 3}
_BITS = {ROLE_VIEWER: roles.READ, ROLE_EDITOR: 15, ROLE_MANAGER: roles.ALL}
_WRITE_BITS = roles.UPDATE | roles.CREATE | roles.DELETE


@dataclass(frozen=True, slots=True)
class Access:
    space: Space                   # from `space_info`: its used/etag/mtime may lag (see there)
    role: str                      # the space role, or for a share the nearest one (label only)
    bits: int = 0                  # OCS bitmask granted; 0 = the space role's bits
    share: Share | None = None     # set when the access comes from a share received

    @property
    def permissions(self) -> int:
        return self.bits or _BITS[self.role]

    @property
    def can_write(self) -> bool:
        return bool(self.permissions & _WRITE_BITS)

    @property
    def can_manage(self) -> bool:
        return self.share is None and self.role == ROLE_MANAGER

    # The trash bin of a space (oCIS unified role actions): every member lists it
    # (`deleted/read`, Space Viewer included), editors and Managers restore (`deleted/update`),
    # Managers purge (`deleted/delete`).
    @property
    def can_list_trash(self) -> bool:
        return bool(self.permissions & roles.READ) and self.permissions != roles.DENIED_BITS

    @property
    def can_restore(self) -> bool:
        return self.can_write

    @property
    def can_purge(self) -> bool:
        return self.can_manage

    @property
    def shared(self) -> bool:
        """True when the caller reaches the resource through a share (WebDAV `S`)."""
        return self.share is not None

    def webdav_permissions(self, *, is_dir: bool, mounted: bool = False) -> str:
        """`oc:permissions` letters (reva conversions WebDAVPermissions): owner file `RDNVWZP`,
        owner folder `RDNVCKZP` (Z deny, P purge: the space's owner or Manager); editors may not reshare (no `R`); viewers get none; a received
        share adds `S`, and `M` on the mount point itself."""
        return roles.webdav_permissions(self.permissions, is_dir=is_dir, shared=self.shared,
                                        mounted=mounted, manage=self.can_manage)

    def grantable(self, *, is_dir: bool) -> int:
        """`ocs:share-permissions`: the OCS bits the caller could grant (files never 4/8)."""
        return roles.grantable_bits(self.permissions, is_dir=is_dir)

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("no write permission in this space")


async def space_access(storage: Storage, user: User, space_id: str) -> Access:
    """The principal's access to a space, or NotFound when it has none (or the space is disabled)."""
    space = await storage.space_info(space_id)
    role: str | None = None
    if space.type == "personal" and space.owner_id == user.id:
        role = ROLE_MANAGER
    else:
        role = (await storage.members(space_id)).get(user.id)
    if role is None or role not in _RANK or (space.disabled and role != ROLE_MANAGER):
        raise NotFound("space not found")
    return Access(space, role)


async def group_ids(users: UserStore, user: User) -> list[str]:
    """The ids of the user's groups; none from a store that keeps no groups."""
    groups_of = getattr(users, "groups_of", None)
    if groups_of is None:
        return []
    try:
        return [group.id for group in await groups_of(user.id)]
    except NotFound:
        return []


def _union(space: Space, shares: Sequence[Share]) -> Access | None:
    """The access several shares give together (their bits OR-ed), or None."""
    now = time.time()
    live = [share for share in shares if not share.expired(now)]
    if not live or space.disabled:
        return None
    if any(share.permissions == roles.DENIED_BITS for share in live):
        return None                      # an explicit deny wins over every grant (role Denied)
    bits = 0
    for share in live:
        bits |= share.permissions
    role = ROLE_EDITOR if bits & _WRITE_BITS else ROLE_VIEWER
    return Access(space, role, bits, live[0])


async def member_access(storage: Storage, users: UserStore, user: User, space_id: str) -> Access:
    """`space_access`, also counting memberships of the user's groups (OCS share type 8)."""
    try:
        return await space_access(storage, user, space_id)
    except NotFound:
        pass
    space = await storage.space_info(space_id)
    members = await storage.members(space_id)
    ranked = [members[gid] for gid in await group_ids(users, user) if members.get(gid) in _RANK]
    if not ranked or space.disabled:
        raise NotFound("space not found")
    return Access(space, max(ranked, key=_RANK.__getitem__))


async def node_access(storage: Storage, users: UserStore, user: User, node: Node) -> Access:
    """What the user may do on `node`: the space grant if any, else the shares with the user
    or their groups on the node or an ancestor. NotFound when nothing grants access."""
    try:
        return await member_access(storage, users, user, node.space_id)
    except NotFound:
        pass
    space = await storage.space_info(node.space_id)
    gids = set(await group_ids(users, user))
    mine = [share for share in await storage.shares_covering(node.id)
            if (share.grantee_type == "user" and share.grantee_id == user.id)
            or (share.grantee_type == "group" and share.grantee_id in gids)]
    access = _union(space, mine)
    if access is None:
        raise NotFound("resource not found")
    return access


@dataclass(frozen=True, slots=True)
class Readers:
    """Who may read a node, as principals: what `node_access` answers for each user, turned
    around so one event is checked against many subscribers without a query per subscriber."""

    members: frozenset[str]        # user/group ids with a space role (or the personal owner)
    shared: frozenset[str]         # user/group ids with a live share on the node or above
    denied: frozenset[str]         # user/group ids with a deny share there (beats `shared`)

    def may_read(self, user_id: str, group_ids: frozenset[str] | set[str]) -> bool:
        ids = group_ids | {user_id}
        if self.members & ids:
            return True                # a space grant wins over any share (node_access order)
        return bool(self.shared & ids) and not self.denied & ids


def readers_from(access: GrantsAt, now: float | None = None) -> Readers:
    """The principals `node_access` lets read a node with these grants (same rules: the personal
    owner and space roles, a disabled space for its Managers only, unexpired shares on the node
    or an ancestor, a deny share beating every share grant)."""
    now = time.time() if now is None else now
    members = {p for p, role, until in access.members
               if role in _RANK and (until is None or until > now)
               and (not access.disabled or role == ROLE_MANAGER)}
    if access.space_type == "personal" and access.owner_id:
        members.add(access.owner_id)
    shared: set[str] = set()
    denied: set[str] = set()
    if not access.disabled:
        for grantee, bits, expiration in access.shares:
            if expiration is not None and expiration <= now:
                continue
            (denied if bits == roles.DENIED_BITS else shared).add(grantee)
    return Readers(frozenset(members), frozenset(shared), frozenset(denied))


async def readers(storage: Storage, node: Node) -> Readers:
    """Who may read `node` now (the grants read through the storage interface)."""
    space = await storage.space_info(node.space_id)
    members = tuple((p, r, None) for p, r in (await storage.members(node.space_id)).items())
    shares = tuple((s.grantee_id, s.permissions, s.expiration)
                   for s in await storage.shares_covering(node.id))
    return readers_from(GrantsAt(space.type, space.owner_id, space.disabled, members, shares))


async def received_share(storage: Storage, users: UserStore, user: User,
                         share_id: str) -> ReceivedShare:
    """The user's received share with this id (direct or through a group). NotFound if none."""
    gids = await group_ids(users, user)
    for received in await storage.received_shares(user.id, gids):
        if received.share.id == share_id:
            return received
    raise NotFound("share not found")


async def share_access(storage: Storage, users: UserStore, user: User,
                       share_id: str) -> tuple[Access, ReceivedShare]:
    """Access through an accepted, unexpired share (a share jail mount point). A pending or
    declined share is not mounted: NotFound, like any resource the user cannot reach."""
    received = await received_share(storage, users, user, share_id)
    return await received_access(storage, received), received


async def received_access(storage: Storage, received: ReceivedShare) -> Access:
    """The access one received share gives; NotFound unless accepted, unexpired and the
    space is enabled."""
    if received.state != "accepted":
        raise NotFound("share not found")
    space = await storage.space_info(received.share.space_id)
    access = _union(space, [received.share])
    if access is None:
        raise NotFound("share not found")
    return access


# --- system roles: what Admin, Space Admin, User and User Light may do beyond their grants -------
# oCIS settings permissions (services/settings/pkg/store/defaults/defaults.go) by system role.
ACCOUNTS = "Accounts.ReadWrite"                  # create, change, delete users; see them in full
GROUPS = "Groups.ReadWrite"                      # create, change, delete groups and members
ROLES = "Roles.ReadWrite"                        # assign system roles
APP_TOKENS = "AppTokens.ReadWrite.all"           # manage other users' app tokens
DRIVES_LIST = "Drives.List"                      # list and open every space (list-all-spaces)
DRIVES_CREATE = "Drives.Create"                  # create project spaces
DRIVES_MANAGE = "Drives.ReadWriteEnabled"        # rename, describe, disable, restore project spaces
DRIVES_DELETE_PROJECT = "Drives.DeleteProject"
DRIVES_DELETE_PERSONAL = "Drives.DeletePersonal"  # also rename/disable personal spaces
QUOTA_PROJECT = "Drives.ReadWriteProjectQuota"
QUOTA_PERSONAL = "Drives.ReadWritePersonalQuota"
_SPACE_ADMIN = frozenset({DRIVES_LIST, DRIVES_CREATE, DRIVES_MANAGE, DRIVES_DELETE_PROJECT,
                          QUOTA_PROJECT})
SYSTEM_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _SPACE_ADMIN | {ACCOUNTS, GROUPS, ROLES, APP_TOKENS, DRIVES_DELETE_PERSONAL,
                             QUOTA_PERSONAL},
    "spaceadmin": _SPACE_ADMIN,
    "user": frozenset(),
    "guest": frozenset(),
}


def has(user: User, permission: str) -> bool:
    """Whether the user's system role holds a settings permission (unknown roles hold none)."""
    return permission in SYSTEM_PERMISSIONS.get(user.role, frozenset())


def require(user: User, permission: str, message: str) -> None:
    if not has(user, permission):
        raise PermissionDenied(message)


def may_see_user(caller: User, user: User) -> bool:
    """A user's full record (mail, roles, ...): the user themselves and account managers."""
    return caller.id == user.id or has(caller, ACCOUNTS)


def manages_all_spaces(user: User) -> bool:
    """Admin and Space Admin list and open every space (oCIS list-all-spaces)."""
    return has(user, DRIVES_LIST)


def may_administer_space(user: User, space: Space, access: Access | None) -> bool:
    """Rename, describe, disable, restore, purge: a project space's Managers and space admins;
    a personal space only the admin (`delete-all-home-spaces`)."""
    if space.type == "personal":
        return has(user, DRIVES_DELETE_PERSONAL)
    return has(user, DRIVES_MANAGE) or (access is not None and access.can_manage)


def may_set_quota(user: User, space: Space) -> bool:
    """oCIS `set-space-quota`: project quotas for admins and space admins, personal for admins.
    A space Manager may not raise their own quota."""
    return has(user, QUOTA_PERSONAL if space.type == "personal" else QUOTA_PROJECT)
