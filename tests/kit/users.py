"""Test users and the in-memory identity store they live in.

`memory_users()` opens the memory driver by the name the service table would use
(`ocis_server.identity.memory:MemoryUserStore`), so the unit tests run services on a real
`UserStore` instead of hand-written fakes. Passwords follow one rule, `password_of(username)`:
the demo users keep the passwords oCIS gives them, the admin has `admin` as in a test server, every
other test user has `<username>-pw`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocis_server.identity import User
from ocis_server.identity.memory import MemoryUserStore
from ocis_server.services import load

MEMORY_DRIVER = "ocis_server.identity.memory:MemoryUserStore"

ALICE = User("11111111-1111-4111-8111-111111111111", "alice", "Alice Liddell", "alice@example.org", "user")
BOB = User("22222222-2222-4222-8222-222222222222", "bob", "Bob", "bob@example.org", "user")
ADMIN = User("33333333-3333-4333-8333-333333333333", "admin", "Admin", "admin@example.org", "admin")
SPACEADMIN = User("44444444-4444-4444-8444-444444444444", "sam", "Sam", "sam@example.org",
                  "spaceadmin")
STANDARD = (ALICE, BOB, ADMIN, SPACEADMIN)

# The demo users of a real server (IDM_CREATE_DEMO_USERS, the embedded test config) and the
# admin's password there (`make_test_config`, the `real_server` fixture, `make serve`).
DEMO_PASSWORDS = {"einstein": "relativity", "marie": "radioactivity", "moss": "vista",
                  "richard": "superfluidity", "katherine": "gemini", "admin": "admin"}


def password_of(username: str) -> str:
    return DEMO_PASSWORDS.get(username, f"{username}-pw")


async def memory_users(*users: User) -> MemoryUserStore:
    """A fresh memory store (loaded by driver name) holding `users` (default: STANDARD), each
    with the password `password_of(username)`."""
    store: MemoryUserStore = await load(MEMORY_DRIVER).open()
    for user in users or STANDARD:
        await store.create(username=user.username, password=password_of(user.username),
                           display_name=user.display_name, email=user.email, role=user.role,
                           user_id=user.id, user_type=user.user_type)
    return store


# The identity drivers by name, as the service table names them: the contract tests run on each.
DRIVERS = {"builtin": "ocis_server.identity.builtin:BuiltinUserStore", "memory": MEMORY_DRIVER}


async def open_driver(name: str, path: Path) -> Any:
    """The identity driver `name` (a key of DRIVERS) opened at `path` (the memory one ignores it)."""
    return await load(DRIVERS[name]).open(path)
