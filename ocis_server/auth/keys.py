"""The embedded IdP's signing keys: PEM files under `<base_data_path>/idp/` (`private-key.pem` is the
current key, as in oCIS; `retired/<kid>.pem` are earlier ones kept until every token they signed has
expired), the public JWKS built from them, and signing and verifying of JWTs with joserfc.

joserfc and the cryptography it loads (about 10 MiB resident) are imported when a key set is first
loaded: the IdP makes a deferred key set at start (`KeySet.deferred`) and loads it with its first
request, the proxy's OIDC verifier with the first bearer token (issue 18, memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocis_server.domain.errors import Unauthenticated

if TYPE_CHECKING:
    from joserfc.jwk import KeySet as JoseKeySet
    from joserfc.jwk import RSAKey

CURRENT = "private-key.pem"
RETIRED = "retired"
ALGORITHMS = ("RS256", "PS256")      # RSA keys sign with either; the IdP's configured one is used
KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str               # RFC 7638 thumbprint: stable for a key, different after rotation
    key: RSAKey
    retired_at: float = 0.0   # 0 for the current key


def _load_pem(path: Path, retired_at: float = 0.0) -> SigningKey:
    from joserfc.errors import JoseError
    from joserfc.jwk import RSAKey

    try:
        key = RSAKey.import_key(path.read_bytes())
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an RSA private key in PEM: {exc}") from None
    if not key.is_private:
        raise ValueError(f"{path} holds no private key")
    return SigningKey(key.thumbprint(), key, retired_at)


def _write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Create the file 0600 and atomically: a crash never leaves half a key behind. With
    `replace=False` an existing file wins (two workers creating the first key at once agree on
    the one linked first)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace:
        os.replace(tmp, path)
        return
    try:
        with contextlib.suppress(FileExistsError):    # another process linked its key first
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _new_key() -> RSAKey:
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(KEY_BITS, private=True)


class KeySet:
    """Current signing key plus retired ones. Build it with `await KeySet.open(directory)`, or
    `KeySet.deferred(directory)` and `await keys.load()` before the first use; file I/O and key
    generation run in a thread, never on the event loop."""

    _current: SigningKey
    _public: JoseKeySet

    def __init__(self, directory: Path, current: SigningKey | None, retired: list[SigningKey], *,
                 algorithm: str = "RS256", keep_retired: float = 3600.0,
                 since: float | None = None) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {algorithm!r} (one of {ALGORITHMS})")
        self.directory = directory
        self.algorithm = algorithm
        self.keep_retired = keep_retired      # seconds: the longest lifetime of a signed token
        self._retired = retired
        self.since = time.time() if since is None else since   # when the current key took over
        self._loading: asyncio.Lock | None = None
        self.loaded = current is not None
        if current is not None:
            self._current = current
            self._public = self._build_public()

    # --- loading ----------------------------------------------------------------------------
    @classmethod
    async def open(cls, directory: Path, *, algorithm: str = "RS256",
                   keep_retired: float = 3600.0) -> KeySet:
        keys = cls.deferred(directory, algorithm=algorithm, keep_retired=keep_retired)
        await keys.load()
        return keys

    @classmethod
    def deferred(cls, directory: Path, *, algorithm: str = "RS256",
                 keep_retired: float = 3600.0) -> KeySet:
        """A key set that reads (or creates) its files with the first `load()`: nothing of
        joserfc or cryptography is imported before."""
        return cls(directory, None, [], algorithm=algorithm, keep_retired=keep_retired, since=0.0)

    async def load(self) -> None:
        """Read the key files (creating the first key) unless done; callers may race."""
        if self.loaded:
            return
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self.loaded:
                return
            current, retired, since = await asyncio.to_thread(self._load, self.directory,
                                                              self.keep_retired)
            self._current, self._retired, self.since = current, retired, since
            self._public = self._build_public()
            self.loaded = True

    @staticmethod
    def _load(directory: Path, keep_retired: float) -> tuple[SigningKey, list[SigningKey], float]:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / CURRENT
        if not path.exists():
            _write_private(path, _new_key().as_pem(private=True), replace=False)
        current = _load_pem(path)
        since = path.stat().st_mtime
        return current, KeySet._load_retired(directory, keep_retired, current.kid), since

    @staticmethod
    def _load_retired(directory: Path, keep_retired: float, current_kid: str) -> list[SigningKey]:
        """Retired keys still inside their grace period; older ones are deleted."""
        folder = directory / RETIRED
        if not folder.is_dir():
            return []
        now, keys = time.time(), []
        for path in sorted(folder.glob("*.pem")):
            retired_at = path.stat().st_mtime
            if now - retired_at > keep_retired:
                path.unlink(missing_ok=True)
                continue
            try:
                key = _load_pem(path, retired_at)
            except ValueError:
                continue                          # an unreadable file verifies nothing
            if key.kid != current_kid:
                keys.append(key)
        return keys

    # --- rotation -----------------------------------------------------------------------------
    async def rotate(self) -> str:
        """Make a new current key; the old one keeps verifying for `keep_retired` seconds.
        Returns the new kid."""
        await self.load()
        current, retired = await asyncio.to_thread(self._rotate_files)
        self._current, self._retired = current, retired
        self._public = self._build_public()
        self.since = time.time()
        return current.kid

    def _rotate_files(self) -> tuple[SigningKey, list[SigningKey]]:
        folder = self.directory / RETIRED
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        old = self._current
        _write_private(folder / f"{old.kid}.pem", old.key.as_pem(private=True))
        _write_private(self.directory / CURRENT, _new_key().as_pem(private=True))
        current = _load_pem(self.directory / CURRENT)
        return current, self._load_retired(self.directory, self.keep_retired, current.kid)

    async def prune(self) -> None:
        """Forget retired keys whose grace period ended (called periodically by the IdP)."""
        now = time.time()
        if any(now - k.retired_at > self.keep_retired for k in self._retired):
            self._retired = await asyncio.to_thread(self._load_retired, self.directory,
                                                    self.keep_retired, self._current.kid)
            self._public = self._build_public()

    # --- public face ----------------------------------------------------------------------------
    def _require(self) -> None:
        if not self.loaded:
            raise RuntimeError("the signing keys are used before `await keys.load()`")

    @property
    def kid(self) -> str:
        self._require()
        return self._current.kid

    def kids(self) -> list[str]:
        self._require()
        return [self._current.kid, *(k.kid for k in self._retired)]

    def _build_public(self) -> JoseKeySet:
        from joserfc.jwk import KeySet as JoseKeySet
        from joserfc.jwk import RSAKey

        keys = [RSAKey.import_key({**item.key.as_dict(private=False), "kid": item.kid})
                for item in (self._current, *self._retired)]
        return JoseKeySet(keys)   # type: ignore[arg-type]

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: the current key first, then retired keys still verifying."""
        self._require()
        out = []
        for key in self._public.keys:
            data = dict(key.as_dict(private=False))
            data.update({"use": "sig", "alg": self.algorithm})
            out.append(data)
        return {"keys": out}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS over `claims` with the current key; `kid` names it in the header."""
        from joserfc import jwt

        self._require()
        header = {"alg": self.algorithm, "kid": self._current.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._current.key, algorithms=[self.algorithm])

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this key set signed (signature only: the caller checks iss, aud,
        exp). Unauthenticated for anything else, including alg=none, HMAC and unknown kids."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        self._require()
        try:
            header = jwt.decode(token, self._public, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError, TypeError, KeyError):
            raise Unauthenticated("invalid token") from None
        if header.header.get("kid") not in self.kids():
            raise Unauthenticated("invalid token")
        return dict(header.claims)
