"""Input rules every user store applies: login names, group names, roles, user types, e-mail."""

from __future__ import annotations

import re

from ocis_server.domain.errors import BadRequest

from .api import ROLES, USER_TYPES, User

# Usernames end up in URLs (/dav/files/<name>) and in HTTP Basic, which splits at the first ':'.
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Deliberately loose (RFC 5321 allows a lot): one @, something on both sides, no spaces.
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+$")


def username(name: str) -> str:
    if not _USERNAME.match(name) or name in (".", ".."):
        raise BadRequest("invalid username: use letters, digits and . _ @ - only")
    return name


def group_name(name: str) -> str:
    # Group names appear in share recipients and LDAP DNs (escaped there): printable, trimmed.
    if not name or len(name) > 255 or _CONTROL.search(name) or name != name.strip() or "/" in name:
        raise BadRequest("invalid group name: 1-255 printable characters, no '/', no outer spaces")
    return name


def role(value: str) -> str:
    if value not in ROLES:
        raise BadRequest(f"invalid role {value!r}: one of {', '.join(ROLES)}")
    return value


def user_type(value: str) -> str:
    if value not in USER_TYPES:
        raise BadRequest(f"invalid user type {value!r}: one of {', '.join(USER_TYPES)}")
    return value


def email(value: str) -> str:
    if value and (len(value) > 320 or not _EMAIL.match(value)):
        raise BadRequest("invalid e-mail address")
    return value


def display_name(value: str) -> str:
    if len(value) > 255 or _CONTROL.search(value):
        raise BadRequest("invalid display name: at most 255 printable characters")
    return value.strip()



_username, _role, _user_type, _email, _display_name = username, role, user_type, email, display_name


def new_user(*, user_id: str, username: str, password: str, display_name: str, email: str,
             role: str, user_type: str) -> User:
    """The user `UserStore.create` is about to store, every field checked. Only a guest provisioned
    from a foreign issuer has no password: it can never log in with one (authenticate compares
    against a dummy hash and fails)."""
    _username(username)
    _role(role)
    _user_type(user_type)
    _email(email)
    name = _display_name(display_name)
    if not password and user_type != "Guest":
        raise BadRequest("the password must not be empty")
    return User(id=user_id, username=username, display_name=name or username, email=email,
                role=role, user_type=user_type)


def user_changes(*, display_name: str | None, email: str | None, role: str | None,
                 user_type: str | None, enabled: bool | None) -> dict[str, str | bool]:
    """Column -> new value for `UserStore.update`, every given field checked."""
    changes: dict[str, str | bool] = {}
    if display_name is not None:
        changes["display_name"] = _display_name(display_name)
        if not changes["display_name"]:
            raise BadRequest("the display name must not be empty")
    if email is not None:
        changes["email"] = _email(email)
    if role is not None:
        changes["role"] = _role(role)
    if user_type is not None:
        changes["user_type"] = _user_type(user_type)
    if enabled is not None:
        changes["enabled"] = enabled
    return changes
