"""Users and groups: the interface, and backends loaded by name (builtin SQLite store; LDAP later)."""

from .api import User, UserStore

__all__ = ["User", "UserStore"]
