"""Password hashing for the builtin store: scrypt (memory-hard), self-describing encoded strings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt parameters: n=2**14, r=8 -> 16 MiB per hash (memory-hard), p=1.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32

# Checked when the username is unknown (or has no password), so a miss costs as much as a
# wrong password and timing does not tell which accounts exist.
DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(bytes(32)).decode()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$<salt b64>$<hash b64>`; blocking (~50 ms): call it in a thread."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "$".join(("scrypt", str(_N), str(_R), str(_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of a password against `hash_password` output; blocking."""
    try:
        algo, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
