"""Where `ocis login` keeps OIDC tokens: the system keyring when a usable backend exists, else
`user_config_dir("ocis")/tokens.toml` (mode 0600), which `ocis auth status` then names loudly.

Also the `TokenKeeper` the SDK refreshes through: a file lock serialises refreshes across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import tomllib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit

from ocis_cli.contexts import ContextError

if TYPE_CHECKING:
    from ocis_cli.client import Client
    from ocis_cli.contexts import Context

SERVICE = "ocis-cli"
KEYRING = "keyring"
FILE = "file"
HEADER = ("OIDC tokens written by `ocis login`, stored here because no system keyring was usable.\n"
          "WARNING: PLAIN TEXT secrets. Keep this file private (mode 0600); `ocis logout` removes "
          "an entry.")


class CredentialError(ContextError):
    """Tokens cannot be read or written (the CLI treats this as "not logged in")."""


@dataclass(frozen=True, slots=True)
class Stored:
    """One context's tokens and what refreshing them needs (the provider's endpoints, client id)."""

    tokens: dict[str, Any]
    issuer: str
    token_endpoint: str
    client_id: str
    revocation_endpoint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "issuer": self.issuer,
                "token_endpoint": self.token_endpoint, "client_id": self.client_id,
                "revocation_endpoint": self.revocation_endpoint}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Stored:
        return cls(tokens=dict(doc["tokens"]), issuer=str(doc.get("issuer", "")),
                   token_endpoint=str(doc["token_endpoint"]), client_id=str(doc["client_id"]),
                   revocation_endpoint=str(doc.get("revocation_endpoint", "")))


def tokens_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("ocis", appauthor=False)) / "tokens.toml"


def usable_keyring() -> Any | None:
    """The system keyring backend, or None on a headless machine (keyring's `fail` backend, or a
    backend of priority 0 such as a chainer with nothing behind it)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or float(getattr(backend, "priority", 0) or 0) <= 0:
        return None
    return backend


def keyring_name(backend: Any) -> str:
    return str(getattr(backend, "name", None) or type(backend).__name__)


class CredentialStore:
    """Tokens per context name, in the keyring or in the 0600 file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or tokens_path()

    def describe(self, where: str) -> str:
        if where == KEYRING:
            backend = usable_keyring()
            return f"system keyring ({keyring_name(backend)})" if backend else "system keyring"
        return f"PLAIN TEXT file {self.path} (mode 0600; no system keyring used)"

    def save(self, name: str, stored: Stored, *, prefer_file: bool = False) -> str:
        """Store and say where (KEYRING or FILE); a keyring that fails falls back to the file."""
        backend = None if prefer_file else usable_keyring()
        if backend is not None:
            from keyring.errors import KeyringError

            try:
                backend.set_password(SERVICE, name, json.dumps(stored.to_dict()))
                self._file_delete(name)
                return KEYRING
            except KeyringError:
                pass
        self._file_write(name, stored)
        self._keyring_delete(name)
        return FILE

    def load(self, name: str, where: str) -> Stored | None:
        if where == KEYRING:
            backend = usable_keyring()
            if backend is None:
                raise CredentialError("the tokens are in the system keyring, which is not "
                                      "available now; run `ocis login` again")
            raw = backend.get_password(SERVICE, name)
            return Stored.from_dict(json.loads(raw)) if raw else None
        table = self._file_load().get("contexts", {}).get(name)
        return Stored.from_dict(_plain(table)) if table else None

    def delete(self, name: str) -> None:
        """Forget a context's tokens wherever they are."""
        self._keyring_delete(name)
        self._file_delete(name)

    def _keyring_delete(self, name: str) -> None:
        backend = usable_keyring()
        if backend is None:
            return
        from keyring.errors import KeyringError

        with contextlib.suppress(KeyringError):
            backend.delete_password(SERVICE, name)

    def _file_load(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except tomllib.TOMLDecodeError as exc:
            raise CredentialError(f"{self.path} is not valid TOML: {exc}") from exc

    def _file_write(self, name: str, stored: Stored) -> None:
        doc = self._file_doc()
        if "contexts" not in doc:
            doc["contexts"] = tomlkit.table(is_super_table=True)
        doc["contexts"][name] = stored.to_dict()
        self._file_save(doc)

    def _file_delete(self, name: str) -> None:
        if not self.path.exists():
            return
        doc = self._file_doc()
        if name in doc.get("contexts", {}):
            del doc["contexts"][name]
            self._file_save(doc)

    def _file_doc(self) -> tomlkit.TOMLDocument:
        if not self.path.exists():
            doc = tomlkit.document()
            for line in HEADER.splitlines():
                doc.add(tomlkit.comment(line))
            return doc
        self._file_load()                      # raises CredentialError on a broken file
        return tomlkit.parse(self.path.read_text(encoding="utf-8"))

    def _file_save(self, doc: tomlkit.TOMLDocument) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # 0600 before any secret
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock between `ocis` processes refreshing the same context's tokens."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name("tokens.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)                       # closing releases the lock


def _plain(value: Any) -> Any:
    """tomllib output as plain dicts (it already is; kept explicit for nested tables)."""
    return json.loads(json.dumps(value))


class ContextKeeper:
    """The SDK's TokenKeeper for one context: load/save/lock run off the event loop."""

    def __init__(self, store: CredentialStore, name: str, where: str, stored: Stored) -> None:
        self._store = store
        self._name = name
        self._where = where
        self._stored = stored

    async def load(self) -> Any:
        from ocis_cli.client.oidc import TokenSet

        stored = await asyncio.to_thread(self._store.load, self._name, self._where)
        return TokenSet.from_dict(stored.tokens) if stored is not None else None

    async def save(self, tokens: Any) -> None:
        stored = Stored(tokens=tokens.to_dict(), issuer=self._stored.issuer,
                        token_endpoint=self._stored.token_endpoint,
                        client_id=self._stored.client_id,
                        revocation_endpoint=self._stored.revocation_endpoint)
        self._where = await asyncio.to_thread(self._store.save, self._name, stored,
                                              prefer_file=self._where == FILE)
        self._stored = stored

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        lock = self._store.lock(self._name)
        await asyncio.to_thread(lock.__enter__)
        try:
            yield
        finally:
            lock.__exit__(None, None, None)


def client_for(context: Context, *, store: CredentialStore | None = None) -> Client:
    """A Client signed in as the context says: its password, or its tokens (refreshed and saved
    back silently)."""
    from ocis_cli.client import BearerAuth, Client
    from ocis_cli.client.oidc import TokenSet

    if context.auth != "oidc":
        return Client(context.url, user=context.user, password=context.password,
                      insecure=context.insecure)
    store = store or CredentialStore()
    stored = store.load(context.name, context.credentials or FILE)
    if stored is None:
        raise ContextError(f"context {context.name!r} has no stored tokens: run "
                           f"`ocis login {context.url}` again")
    keeper = ContextKeeper(store, context.name, context.credentials or FILE, stored)
    bearer = BearerAuth(TokenSet.from_dict(stored.tokens), token_endpoint=stored.token_endpoint,
                        client_id=stored.client_id, issuer=stored.issuer, keeper=keeper)
    return Client(context.url, bearer=bearer, insecure=context.insecure)
