"""The IdP's signing keys (ocis_server/auth/keys.py): created once, kept across restarts, rotated
with the old key verifying for its grace period, and nothing but our own RSA signatures accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from ocis_server.auth.keys import KeySet
from ocis_server.domain.errors import Unauthenticated


def b64(data: dict[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(secret: bytes, header: dict[str, object], claims: dict[str, object]) -> str:
    """The classic confusion attack: HMAC keyed with the RSA public key's PEM."""
    signing_input = f"{b64(header)}.{b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


_FIRST_KEY = """
import asyncio, sys, time
from pathlib import Path
from ocis_server.auth.keys import KeySet
keys = KeySet.deferred(Path(sys.argv[1]))
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))     # both start creating at once
asyncio.run(keys.load())
print(keys.kid)
"""


def test_workers_creating_the_first_key_at_once_agree_on_it(tmp_path: Path) -> None:
    """Each worker loads the IdP's keys with its first use, so two may create the first key
    together: the key linked first wins, the other worker reads it."""
    start = f"{time.time() + 1.5:.3f}"
    procs = [subprocess.Popen([sys.executable, "-c", _FIRST_KEY, str(tmp_path / "idp"), start],
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    kids = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert len(kids) == 1 and "" not in kids
    assert [p.name for p in (tmp_path / "idp").iterdir()] == ["private-key.pem"]


async def test_deferred_key_set_reads_nothing_until_loaded(tmp_path: Path) -> None:
    keys = KeySet.deferred(tmp_path / "idp")
    assert not keys.loaded and not (tmp_path / "idp").exists()
    with pytest.raises(RuntimeError):
        keys.sign({"sub": "x"})
    await keys.load()
    assert keys.loaded and keys.verify(keys.sign({"sub": "x"}))["sub"] == "x"


async def test_created_once_and_reloaded(tmp_path: Path) -> None:
    first = await KeySet.open(tmp_path / "idp")
    pem = tmp_path / "idp" / "private-key.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "idp").stat().st_mode & 0o077 == 0
    again = await KeySet.open(tmp_path / "idp")
    assert again.kid == first.kid
    token = first.sign({"sub": "u1"})
    assert again.verify(token) == {"sub": "u1"}
    assert jwt.decode(token, RSAKey.import_key(first.jwks()["keys"][0])).claims == {"sub": "u1"}


async def test_rotation_survives_restart_and_retired_keys_expire(tmp_path: Path) -> None:
    keys = await KeySet.open(tmp_path, keep_retired=300)
    old_token, old_kid = keys.sign({"n": 1}), keys.kid
    new_kid = await keys.rotate()
    assert new_kid != old_kid and keys.kids() == [new_kid, old_kid]
    assert keys.verify(old_token) == {"n": 1}
    assert jwt.decode(keys.sign({"n": 2}), RSAKey.import_key(keys.jwks()["keys"][0])).header[
        "kid"] == new_kid
    restarted = await KeySet.open(tmp_path, keep_retired=300)
    assert restarted.kids() == [new_kid, old_kid] and restarted.verify(old_token) == {"n": 1}
    retired = next((tmp_path / "retired").glob("*.pem"))
    past = time.time() - 301
    os.utime(retired, (past, past))          # its grace period is over
    later = await KeySet.open(tmp_path, keep_retired=300)
    assert later.kids() == [new_kid] and not retired.exists()
    with pytest.raises(Unauthenticated):
        later.verify(old_token)


async def test_forgeries_are_refused(tmp_path: Path) -> None:
    keys = await KeySet.open(tmp_path)
    good = keys.sign({"sub": "u1"})
    _, payload, _ = good.split(".")
    public_pem = RSAKey.import_key(keys.jwks()["keys"][0]).as_pem(private=False)
    forged = [
        b64({"alg": "none", "kid": keys.kid}) + "." + payload + ".",
        hs256(public_pem, {"alg": "HS256", "kid": keys.kid}, {"sub": "admin"}),
        jwt.encode({"alg": "RS256", "kid": keys.kid}, {"sub": "admin"},   # another RSA key
                   RSAKey.generate_key(2048)),
        jwt.encode({"alg": "RS256", "kid": "unknown"}, {"sub": "admin"}, RSAKey.generate_key(2048)),
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "not a token",
    ]
    for token in forged:
        with pytest.raises(Unauthenticated):
            keys.verify(token)


async def test_a_broken_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "private-key.pem").write_text("garbage")
    with pytest.raises(ValueError, match="private-key.pem is not an RSA private key"):
        await KeySet.open(tmp_path)


def test_unknown_algorithm_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported signing algorithm"):
        KeySet(tmp_path, None, [], algorithm="HS256")  # type: ignore[arg-type]
