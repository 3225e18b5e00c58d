"""Users and groups: the interface, and backends loaded by name (builtin SQLite store, LDAP, and
the in-memory store of the tests)."""

from .api import ROLES, USER_TYPES, Group, User, UserStore

__all__ = ["ROLES", "USER_TYPES", "Group", "User", "UserStore"]
