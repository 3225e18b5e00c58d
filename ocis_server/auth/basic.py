"""HTTP Basic credentials (RFC 7617): parse the header safely and check them against the user store.

Malformed input (bad base64, no colon, undecodable bytes) is an authentication failure, never a 500.
"""

from __future__ import annotations

import base64
import binascii

from ocis_server.domain.errors import Unauthenticated
from ocis_server.identity import User, UserStore

CHALLENGE = 'Basic realm="ocis", charset="UTF-8"'
_MAX_CREDENTIALS = 4096   # bytes of base64; a longer header is not a password anyone typed


def parse_basic(value: str) -> tuple[str, str]:
    """`Basic <base64(user:password)>` -> (user, password); Unauthenticated when malformed."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Unauthenticated("not HTTP Basic credentials")
    token = token.strip()
    if not token or len(token) > _MAX_CREDENTIALS:
        raise Unauthenticated("malformed Basic credentials")
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        # Latin-1 is what some old clients send when they ignore `charset="UTF-8"`.
        try:
            decoded = base64.b64decode(token, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            raise Unauthenticated("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise Unauthenticated("malformed Basic credentials")
    return username, password


def looks_like_app_token(password: str) -> bool:
    """App tokens are 16 ASCII letters and digits (oCIS auth-app); anything else is a password."""
    return len(password) == 16 and password.isascii() and password.isalnum()


async def authenticate_basic(users: UserStore, header: str,
                             credentials: tuple[str, str] | None = None) -> User:
    """The user the Basic header names, or Unauthenticated (malformed or wrong credentials).
    `credentials`: the header already parsed."""
    username, password = credentials or parse_basic(header)
    user = await users.authenticate(username, password)
    if user is None:
        raise Unauthenticated("username or password was incorrect")
    return user
