"""What a system role allows beyond grants is one table in `auth.authz` (oCIS settings
permissions by role): every admin rule of the services asks it, and a user with no system
permission still manages a project space they are Manager of."""

from __future__ import annotations

from ocis_server.auth import authz
from ocis_server.auth.authz import Access
from ocis_server.identity import User
from ocis_server.identity.api import ROLES
from ocis_server.storage import Space


def _user(role: str, uid: str = "u1") -> User:
    return User(id=uid, username=uid, display_name=uid, email="", role=role)


def _space(kind: str) -> Space:
    return Space(id="s1", storage_id="st", type=kind, name="S", alias=f"{kind}/s", owner_id="u1",
                 quota_total=0, used=0, description="", etag="e", mtime=0.0)


def test_every_system_role_has_a_row() -> None:
    assert set(authz.SYSTEM_PERMISSIONS) == set(ROLES)
    assert authz.SYSTEM_PERMISSIONS["user"] == authz.SYSTEM_PERMISSIONS["guest"] == frozenset()
    assert authz.SYSTEM_PERMISSIONS["spaceadmin"] < authz.SYSTEM_PERMISSIONS["admin"]
    assert not authz.has(_user("nonsense"), authz.DRIVES_LIST)


def test_space_admin_manages_project_spaces_only() -> None:
    admin, space_admin, user = _user("admin"), _user("spaceadmin"), _user("user")
    project, personal = _space("project"), _space("personal")
    assert authz.manages_all_spaces(space_admin) and not authz.manages_all_spaces(user)
    assert authz.may_set_quota(space_admin, project) and not authz.may_set_quota(space_admin, personal)
    assert authz.may_set_quota(admin, personal)
    assert authz.may_administer_space(space_admin, project, None)
    assert not authz.may_administer_space(space_admin, personal, None)
    assert authz.may_administer_space(admin, personal, None)
    # a plain user: only as Manager of the project space, never its quota
    manager = Access(project, authz.ROLE_MANAGER)
    assert authz.may_administer_space(user, project, manager)
    assert not authz.may_administer_space(user, project, Access(project, authz.ROLE_EDITOR))
    assert not authz.may_set_quota(user, project)


def test_account_records_for_oneself_and_account_managers() -> None:
    me, other = _user("user", "me"), _user("user", "other")
    assert authz.may_see_user(me, me) and not authz.may_see_user(me, other)
    assert authz.may_see_user(_user("admin", "boss"), other)
    assert not authz.may_see_user(_user("spaceadmin", "sa"), other)
