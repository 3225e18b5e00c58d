"""Link signatures: what stands for the password of a public link in a download URL.

reva (`pkg/publicshare/publicshare.go` `CreateSignature`, `AddSignature`) signs a password-protected
link when it is opened with its password: `hex(HMAC-SHA512/256(key = SHA-256(stored password
hash), "<token>|<expiration RFC 3339>"))`, valid 30 minutes. ocdav's PROPFIND puts it in
`oc:downloadURL` (`<url>?signature=<sig>&expiration=<RFC 3339>`) and `oc:signature-auth`, and the
public-files endpoint takes the pair instead of the password (auth manager `publicshares`,
`signature|<sig>|<expiration>`). The key is derived from the stored hash, so a new password (or
none) makes every signature given out before void at once. Here a signature opens the link for
reading only (GET, HEAD, PROPFIND): it travels in URLs, which end up in logs and browser history.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ocis_server.storage import Link

VALIDITY = 30 * 60                  # seconds (reva AddSignature: 30 minutes)
READ_METHODS = frozenset({"GET", "HEAD", "PROPFIND"})


@dataclass(frozen=True, slots=True)
class LinkSignature:
    signature: str       # hex
    expiration: str      # RFC 3339, UTC, whole seconds ("2026-12-07T18:40:00Z")


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(token: str, password_hash: str, expiration: str) -> str:
    key = hashlib.sha256(password_hash.encode()).digest()
    return hmac.new(key, f"{token}|{expiration}".encode(), "sha512_256").hexdigest()


def issue(link: Link, now: float | None = None) -> LinkSignature | None:
    """A signature for a link with a password, valid for VALIDITY seconds; None without one."""
    if link.password_hash is None:
        return None
    expiration = _rfc3339((time.time() if now is None else now) + VALIDITY)
    return LinkSignature(_sign(link.token, link.password_hash, expiration), expiration)


def _parse(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def verify(link: Link, query: Mapping[str, str], method: str, now: float | None = None) -> bool:
    """Whether the request's `signature` and `expiration` open this link: a link with a password,
    a reading method, not expired, and the signature the server made for that expiration."""
    signature, expiration = query.get("signature"), query.get("expiration")
    if link.password_hash is None or not signature or not expiration:
        return False
    if method not in READ_METHODS:
        return False
    expires = _parse(expiration)
    if expires is None or expires <= (time.time() if now is None else now):
        return False
    expected = _sign(link.token, link.password_hash, _rfc3339(expires))
    return hmac.compare_digest(expected, signature.strip().lower())
