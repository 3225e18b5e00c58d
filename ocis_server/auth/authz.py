"""Deny-by-default authorization: the one function that says what a principal may do in a space.

Every protocol asks `space_role`/`permissions`; none re-implements it. Unauthorized looks like not
found (404) so ids do not leak existence.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocis_server.domain.errors import NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.storage import Space, Storage

# Space roles as oCIS names them (unified roles Space Viewer / Space Editor / Manager).
ROLE_VIEWER = "viewer"
ROLE_EDITOR = "editor"
ROLE_MANAGER = "manager"
_RANK = {ROLE_VIEWER: 1, ROLE_EDITOR: 2, ROLE_MANAGER: 3}


@dataclass(frozen=True, slots=True)
class Access:
    space: Space
    role: str

    @property
    def can_write(self) -> bool:
        return _RANK[self.role] >= _RANK[ROLE_EDITOR]

    @property
    def can_manage(self) -> bool:
        return self.role == ROLE_MANAGER

    def webdav_permissions(self, *, is_dir: bool) -> str:
        """`oc:permissions` letters (reva conversions WebDAVPermissions): owner file `RDNVW`,
        owner folder `RDNVCK`; editors may not reshare (no `R`); viewers get none."""
        if not self.can_write:
            return ""
        return ("R" if self.can_manage else "") + "DNV" + ("CK" if is_dir else "W")

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("no write permission in this space")


async def space_access(storage: Storage, user: User, space_id: str) -> Access:
    """The principal's access to a space, or NotFound when it has none (or the space is disabled)."""
    space = await storage.get_space(space_id)
    role: str | None = None
    if space.type == "personal" and space.owner_id == user.id:
        role = ROLE_MANAGER
    else:
        role = (await storage.members(space_id)).get(user.id)
    if role is None or role not in _RANK or (space.disabled and role != ROLE_MANAGER):
        raise NotFound("space not found")
    return Access(space, role)
