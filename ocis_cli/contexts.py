"""Client contexts (server URL + user + how they sign in) in `user_config_dir("ocis")/config.toml`.

An OIDC context's tokens live in the credential store (`ocis_cli.credentials`: keyring or a 0600
file). A password context (`--user` + password, for scripts) keeps its password in this file (mode
0600), and `ocis auth status` says so. Written with tomlkit so a user's comments survive.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit

HEADER = (
    "ocis CLI contexts, written by `ocis login`.\n"
    "WARNING: passwords below (logins with --user) are stored in PLAIN TEXT.\n"
    "OIDC logins keep their tokens in the system keyring, or in tokens.toml beside this file.\n"
    "This file must stay private (mode 0600). Remove a context with `ocis context rm NAME`."
)


class ContextError(Exception):
    """No usable context: not logged in, or an unknown context name."""


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    url: str
    user: str
    password: str
    insecure: bool = False
    auth: str = "basic"           # "basic" (user + password) or "oidc" (tokens in the credential store)
    credentials: str = ""         # oidc: where the tokens are, "keyring" or "file"


def config_path() -> Path:
    """Where contexts live; honours XDG_CONFIG_HOME (platformdirs does on every platform)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("ocis", appauthor=False)) / "config.toml"


def default_name(url: str) -> str:
    """A context's default name: the server's host, with the port when one is given."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


def login_name(store: ContextStore, url: str, user: str, explicit: str | None = None) -> str:
    """The context a login of `user` on `url` saves to: `explicit` if given; else the server's
    `host:port` when it is free or already this user's; else `user@host:port`, so a second user
    on the same server gets a context of their own instead of replacing the first."""
    if explicit:
        return explicit
    base = default_name(url)
    known = {c.name: c for c in store.all()}
    if base not in known or known[base].user == user:
        return base
    return f"{user}@{base}"


class ContextStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()

    def _load(self) -> tomlkit.TOMLDocument:
        if not self.path.exists():
            doc = tomlkit.document()
            for line in HEADER.splitlines():
                doc.add(tomlkit.comment(line))
            return doc
        text = self.path.read_text(encoding="utf-8")
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ContextError(f"{self.path} is not valid TOML: {exc}") from exc
        return tomlkit.parse(text)

    def _save(self, doc: tomlkit.TOMLDocument) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        # Created 0600 before any secret is written into it.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def all(self) -> list[Context]:
        doc = self._load().unwrap()
        return [_context(name, table) for name, table in (doc.get("contexts") or {}).items()]

    def current_name(self) -> str | None:
        name = self._load().unwrap().get("current-context")
        return str(name) if name else None

    def get(self, name: str) -> Context:
        for ctx in self.all():
            if ctx.name == name:
                return ctx
        raise ContextError(f"no context named {name!r} (see `ocis context ls`)")

    def resolve(self, name: str | None) -> Context:
        """The context to use: the given name (from --context or OCIS_CONTEXT), else the current one."""
        if name:
            return self.get(name)
        current = self.current_name()
        if not current:
            raise ContextError("not logged in: run `ocis login URL` first")
        return self.get(current)

    def save(self, ctx: Context, *, make_current: bool) -> None:
        doc = self._load()
        if "contexts" not in doc:
            doc["contexts"] = tomlkit.table(is_super_table=True)
        table = tomlkit.table()
        table["url"] = ctx.url
        table["user"] = ctx.user
        if ctx.auth == "oidc":
            table["auth"] = "oidc"
            table["credentials"] = ctx.credentials
        else:
            table["password"] = ctx.password
        table["insecure"] = ctx.insecure
        doc["contexts"][ctx.name] = table
        if make_current:
            doc["current-context"] = ctx.name
        self._save(doc)

    def use(self, name: str) -> Context:
        ctx = self.get(name)
        doc = self._load()
        doc["current-context"] = name
        self._save(doc)
        return ctx

    def remove(self, name: str) -> None:
        self.get(name)
        doc = self._load()
        del doc["contexts"][name]
        if doc.get("current-context") == name:
            del doc["current-context"]
        self._save(doc)


def _context(name: str, table: dict[str, object]) -> Context:
    return Context(name=name, url=str(table.get("url", "")), user=str(table.get("user", "")),
                   password=str(table.get("password", "")),
                   insecure=bool(table.get("insecure", False)),
                   auth=str(table.get("auth", "basic")),
                   credentials=str(table.get("credentials", "")))
