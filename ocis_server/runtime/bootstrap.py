"""First-start state: the admin user, the demo users and groups (IDM_CREATE_DEMO_USERS) and a personal
space for every user. Each step is idempotent, so it runs at every start and repairs what is missing
(a demo group gets its members when it is made: an admin's later changes to it stay)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ocis_server.auth.personal import ensure_personal_space
from ocis_server.domain.errors import AlreadyExists, NotFound
from ocis_server.identity import User, UserStore
from ocis_server.storage import Storage

if TYPE_CHECKING:
    from ocis_server.config import Config

log = logging.getLogger("ocis.runtime")

# oCIS demo users (docs/ocis/getting-started/demo-users.md) with their upstream ids, so ids seen in
# upstream docs and client tests (e.g. einstein's 4c510ada-...) mean the same user here.
DEMO_USERS: tuple[tuple[str, str, str, str, str], ...] = (
    ("4c510ada-c86b-4815-8820-42cdf82c3d51", "einstein", "relativity", "Albert Einstein", "user"),
    ("f7fbf8c8-139b-4376-b307-cf0a8c2d0d9c", "marie", "radioactivity", "Marie Curie", "user"),
    ("058bff95-6708-4fe5-91e4-9ea3d377588b", "moss", "vista", "Maurice Moss", "admin"),
    ("932b4540-8d16-481e-8ef4-588e4b6b151c", "richard", "superfluidity", "Richard Feynman", "user"),
    ("534bb038-6f9d-4093-946f-133be61fa4e7", "katherine", "gemini", "Katherine Johnson",
     "spaceadmin"),
)

# oCIS's demo groups (services/idm/ldif/demousers.ldif.tmpl) with their upstream ids and members.
DEMO_GROUPS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("509a9dcd-bb37-4f4f-a01a-19dca27d9cfa", "users", "Users",
     ("einstein", "marie", "richard", "moss", "admin")),
    ("6040aa17-9c64-4fef-9bd0-77234d71bad0", "sailing-lovers", "Sailing lovers", ("einstein",)),
    ("dd58e5ec-842e-498b-8800-61f2ec6f911f", "violin-haters", "Violin haters", ("einstein",)),
    ("7b87fd49-286e-4a5f-bafd-c535d5dd997a", "radium-lovers", "Radium lovers", ("marie",)),
    ("cedc21aa-4072-4614-8676-fa9165f598ff", "polonium-lovers", "Polonium lovers", ("marie",)),
    ("a1726108-01f8-4c30-88df-2b1a9d1cba1a", "quantum-lovers", "Quantum lovers", ("richard",)),
    ("167cbee2-0518-455a-bfb2-031fe0621e5d", "philosophy-haters", "Philosophy haters",
     ("richard",)),
    ("262982c1-2362-4afa-bfdf-8cbfef64a06e", "physics-lovers", "Physics lovers",
     ("einstein", "marie", "richard")),
)


async def _ensure_group(users: UserStore, group_id: str, name: str, description: str,
                        members: tuple[str, ...]) -> None:
    try:
        await users.get_group(group_id)
        return
    except NotFound:
        pass
    try:
        group = await users.create_group(name=name, description=description, group_id=group_id)
    except AlreadyExists:
        log.warning("group name %r is taken by another id; not creating it", name)
        return
    for username in members:
        try:
            await users.add_member(group.id, (await users.get_by_name(username)).id)
        except NotFound:
            log.warning("demo group %s: no user %r", name, username)
    log.info("created group %s", name)


async def _ensure(users: UserStore, *, user_id: str, username: str, password: str,
                  display_name: str, role: str) -> User | None:
    try:
        return await users.get(user_id)
    except NotFound:
        pass
    try:
        user = await users.create(username=username, password=password, display_name=display_name,
                                  email=f"{username}@example.org", role=role, user_id=user_id)
    except AlreadyExists:
        log.warning("user name %r is taken by another id; not creating it", username)
        return None
    log.info("created user %s (%s)", username, role)
    return user


async def ensure_users(users: UserStore, config: Config) -> list[User]:
    """Create the admin (and the demo users) if missing; returns every user."""
    if not config.admin_user_id:
        raise ValueError("admin_user_id is not configured: run `ocis init`")
    try:
        await users.get(config.admin_user_id)
    except NotFound:
        if not config.admin_password:
            raise ValueError("no admin password configured (IDM_ADMIN_PASSWORD or ocis init)") from None
        await _ensure(users, user_id=config.admin_user_id, username="admin",
                      password=config.admin_password, display_name="Admin", role="admin")
    if config.create_demo_users:
        for user_id, username, password, display_name, role in DEMO_USERS:
            await _ensure(users, user_id=user_id, username=username, password=password,
                          display_name=display_name, role=role)
        for group_id, name, description, members in DEMO_GROUPS:
            await _ensure_group(users, group_id, name, description, members)
    return await users.list()


async def ensure_personal_spaces(storage: Storage, users: list[User]) -> None:
    """Every user owns a personal space whose id is the user id."""
    for user in users:
        if await ensure_personal_space(storage, user):
            log.info("created personal space of %s", user.username)
