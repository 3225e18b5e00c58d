"""The LDAP user source: users and groups read from an external directory through ldap3
(OCIS_LDAP_URI and oCIS's OCIS_LDAP_* settings), passwords checked by binding as the user.

Read-only unless OCIS_LDAP_SERVER_WRITE_ENABLED: then users and groups are created, changed and
deleted in the directory too. Roles, user-type overrides and foreign identities live beside the
directory in `<base>/idm/ldap-local.db` (oCIS keeps roles in its settings service, not in LDAP).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import secrets
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection  # type: ignore[import-untyped]

from ocis_server.domain.errors import (
    AlreadyExists,
    BadGateway,
    BadRequest,
    NotFound,
    NotSupported,
    PermissionDenied,
)
from ocis_server.domain.ids import new_id

from . import validate
from .api import Group, User, counts_change
from .ldapconn import LdapPool, LdapSettings, entry_id, eq, first, rdn, search, values
from .localdb import LocalAccounts

if TYPE_CHECKING:
    from .pglocal import PostgresLocalAccounts

_CACHE_TTL = 30.0
_CACHE_SIZE = 1024
_MEMBER_LOOKUPS = 20      # more members than this: list all users once instead
_READ_ONLY = "the LDAP directory is read-only (OCIS_LDAP_SERVER_WRITE_ENABLED is off)"
# LDAP result codes (RFC 4511 4.1.9) the write paths turn into domain errors.
_NO_SUCH_OBJECT, _ALREADY_EXISTS, _NO_SUCH_ATTRIBUTE, _VALUE_EXISTS = 32, 68, 16, 20


class LdapUserStore:
    """UserStore over an LDAP directory; see the module docstring."""

    def __init__(self, pool: LdapPool, local: LocalAccounts | PostgresLocalAccounts) -> None:
        self.pool, self.local, self.s = pool, local, pool.settings
        self.changes = 0          # bumped by every write made here (UserStore.changes)
        self._by_id: dict[str, tuple[User, float]] = {}
        self._auth_cache: dict[bytes, tuple[User, float]] = {}
        self._cache_key = secrets.token_bytes(32)

    @classmethod
    async def open(cls, settings: LdapSettings, local_db: Path,
                   database_url: str = "") -> LdapUserStore:
        """`local_db`: the SQLite file of roles and links; with `database_url` (OCIS_DATABASE_URL)
        they are in PostgreSQL instead (pglocal.py), the same for every front node."""
        settings.validate()
        local: LocalAccounts | PostgresLocalAccounts
        if database_url:
            from .pglocal import PostgresLocalAccounts as Shared     # psycopg only when configured

            local = await Shared.open(database_url)
        else:
            local = await LocalAccounts.open(local_db)
        store = cls(LdapPool(settings), local)
        try:
            await store.check()
        except BaseException:
            await store.close()
            raise
        return store

    # --- reading users ------------------------------------------------------------------------
    def _user_attrs(self) -> list[str]:
        s = self.s
        return [s.user_id_attr, s.username_attr, s.mail_attr, s.displayname_attr,
                s.user_type_attr, s.enabled_attr]

    def _user_filter(self, *extra: str) -> str:
        return f"(&(objectClass={self.s.user_objectclass}){self.s.user_filter}{''.join(extra)})"

    def _id_clause(self, user_id: str) -> str:
        if not self.s.user_id_is_octetstring:
            return eq(self.s.user_id_attr, user_id)
        try:
            raw = uuid.UUID(user_id).bytes_le
        except ValueError:
            raise NotFound("user not found") from None
        escaped = "".join(f"\\{b:02x}" for b in raw)     # RFC 4515 escapes of every byte
        return f"({self.s.user_id_attr}={escaped})"

    async def _user_entries(self, *extra: str, base: str | None = None,
                            scope: str | None = None) -> list[dict[str, Any]]:
        filt, attrs = self._user_filter(*extra), self._user_attrs()
        return await self.pool.run(lambda c: search(
            c, base or self.s.user_base_dn, scope or self.s.user_scope, filt, attrs))

    async def _one_user_entry(self, *extra: str) -> dict[str, Any]:
        entries = [e for e in await self._user_entries(*extra) if self._usable(e)]
        if len(entries) != 1:       # none, or an ambiguous name: never guess which one is meant
            raise NotFound("user not found")
        return entries[0]

    def _usable(self, entry: dict[str, Any]) -> bool:
        return bool(entry_id(entry, self.s.user_id_attr, octet=self.s.user_id_is_octetstring)
                    and first(entry, self.s.username_attr))

    def _to_user(self, entry: dict[str, Any], override: tuple[str | None, str | None],
                 *, in_disabled_group: bool = False) -> User:
        s = self.s
        enabled = not in_disabled_group and not (
            s.disable_mechanism == "attribute" and first(entry, s.enabled_attr).upper() == "FALSE")
        user_id = entry_id(entry, s.user_id_attr, octet=s.user_id_is_octetstring)
        username = first(entry, s.username_attr)
        user_type = override[1] or first(entry, s.user_type_attr) or "Member"
        if user_type not in ("Member", "Guest"):
            user_type = "Member"
        default_role = ("admin" if user_id == s.admin_user_id
                        else "guest" if user_type == "Guest" else "user")
        return User(id=user_id, username=username,
                    display_name=first(entry, s.displayname_attr) or username,
                    email=first(entry, s.mail_attr), role=override[0] or default_role,
                    user_type=user_type, enabled=enabled)

    async def _user(self, entry: dict[str, Any]) -> User:
        user_id = entry_id(entry, self.s.user_id_attr, octet=self.s.user_id_is_octetstring)
        grouped = self.s.disable_mechanism == "group" and await self._disabled(entry)
        user = self._to_user(entry, await self.local.override(user_id), in_disabled_group=grouped)
        if len(self._by_id) >= _CACHE_SIZE:
            self._by_id.clear()
        self._by_id[user.id] = (user, time.monotonic() + _CACHE_TTL)
        return user

    async def get(self, user_id: str) -> User:
        """By id; cached briefly, as every PROPFIND renders the owner."""
        cached = self._by_id.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return await self._user(await self._one_user_entry(self._id_clause(user_id)))

    async def get_by_name(self, username: str) -> User:
        return await self._user(await self._one_user_entry(eq(self.s.username_attr, username)))

    async def list(self) -> builtins.list[User]:
        overrides = await self.local.overrides()
        disabled = await self._disabled_members()
        users = [self._to_user(e, overrides.get(
                     entry_id(e, self.s.user_id_attr, octet=self.s.user_id_is_octetstring),
                     (None, None)), in_disabled_group=e["dn"].lower() in disabled)
                 for e in await self._user_entries() if self._usable(e)]
        return sorted(users, key=lambda u: u.username.lower())

    async def count(self) -> int:
        return len(await self._user_entries())

    async def check(self) -> None:
        """The directory answers and the user base exists (the runtime's health check)."""
        base = self.s.user_base_dn
        found = await self.pool.run(lambda c: search(c, base, "base", "(objectClass=*)", ["1.1"]))
        if not found:
            raise BadGateway(f"the LDAP user base {base!r} does not exist")

    # --- authentication -----------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User | None:
        """Bind as the user. A success is remembered for a short while (keyed by a MAC of name
        and password), as HTTP Basic clients send the password with every request."""
        if not username or not password:
            return None
        key = hashlib.blake2b(f"{username}\0{password}".encode(), key=self._cache_key,
                              digest_size=32).digest()
        cached = self._auth_cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            entry = await self._one_user_entry(eq(self.s.username_attr, username))
        except NotFound:
            return None
        if await self._disabled(entry) or not await self.pool.check_password(entry["dn"], password):
            return None
        user = await self._user(entry)
        if len(self._auth_cache) >= _CACHE_SIZE:
            self._auth_cache.clear()
        self._auth_cache[key] = (user, time.monotonic() + _CACHE_TTL)
        return user

    def _forget(self, user_id: str) -> None:
        self._by_id.pop(user_id, None)
        for key in [k for k, (user, _) in self._auth_cache.items() if user.id == user_id]:
            del self._auth_cache[key]

    async def _disabled(self, entry: dict[str, Any]) -> bool:
        s = self.s
        if s.disable_mechanism == "attribute":
            return first(entry, s.enabled_attr).upper() == "FALSE"
        if s.disable_mechanism == "group" and s.disabled_group_dn:
            filt = f"(&(objectClass={s.group_objectclass}){eq(s.member_attr, entry['dn'])})"
            dn = s.disabled_group_dn
            return bool(await self.pool.run(lambda c: search(c, dn, "base", filt, ["1.1"])))
        return False

    async def _disabled_members(self) -> set[str]:
        """Lower-cased DNs in the disabled users group (disable mechanism `group`), else none."""
        s = self.s
        if s.disable_mechanism != "group" or not s.disabled_group_dn:
            return set()
        dn, attr = s.disabled_group_dn, s.member_attr
        entries = await self.pool.run(lambda c: search(c, dn, "base", "(objectClass=*)", [attr]))
        return {m.decode("utf-8", "replace").lower() for e in entries for m in values(e, attr) if m}

    async def _set_enabled(self, entry: dict[str, Any], enabled: bool) -> None:
        """oCIS's disable mechanisms: the enabled attribute, or membership of the disabled group."""
        s = self.s
        if s.disable_mechanism == "attribute":
            self._require_write()
            await self._modify(entry["dn"], {s.enabled_attr: [(MODIFY_REPLACE,
                                                               ["TRUE" if enabled else "FALSE"])]})
        elif s.disable_mechanism == "group" and s.disabled_group_dn:
            self._require_write()
            await self._modify(s.disabled_group_dn, {s.member_attr: [
                (MODIFY_DELETE if enabled else MODIFY_ADD, [entry["dn"]])]})
        else:
            raise NotSupported("accountEnabled needs OCIS_LDAP_DISABLE_USER_MECHANISM "
                               "attribute or group")

    # --- groups -------------------------------------------------------------------------------
    def _group_filter(self, *extra: str) -> str:
        return f"(&(objectClass={self.s.group_objectclass}){self.s.group_filter}{''.join(extra)})"

    async def _group_entries(self, *extra: str) -> builtins.list[dict[str, Any]]:
        s = self.s
        filt = self._group_filter(*extra)
        attrs = [s.group_id_attr, s.groupname_attr, "description", s.member_attr]
        entries = await self.pool.run(lambda c: search(c, s.group_base_dn, s.group_scope, filt,
                                                       attrs))
        return [e for e in entries if entry_id(e, s.group_id_attr, octet=False)
                and first(e, s.groupname_attr)]

    def _to_group(self, entry: dict[str, Any]) -> Group:
        return Group(id=entry_id(entry, self.s.group_id_attr, octet=False),
                     name=first(entry, self.s.groupname_attr),
                     description=first(entry, "description"))

    async def _group_entry(self, *extra: str) -> dict[str, Any]:
        entries = await self._group_entries(*extra)
        if len(entries) != 1:
            raise NotFound("group not found")
        return entries[0]

    async def list_groups(self) -> builtins.list[Group]:
        groups = [self._to_group(e) for e in await self._group_entries()]
        return sorted(groups, key=lambda g: g.name.lower())

    async def get_group(self, group_id: str) -> Group:
        return self._to_group(await self._group_entry(eq(self.s.group_id_attr, group_id)))

    async def get_group_by_name(self, name: str) -> Group:
        return self._to_group(await self._group_entry(eq(self.s.groupname_attr, name)))

    async def members(self, group_id: str) -> builtins.list[User]:
        entry = await self._group_entry(eq(self.s.group_id_attr, group_id))
        # oCIS keeps `member: ""` in groups that have no members: skip empty DNs.
        dns = [dn.decode("utf-8", "replace") for dn in values(entry, self.s.member_attr) if dn]
        found: builtins.list[dict[str, Any]] = []
        if len(dns) > _MEMBER_LOOKUPS:      # one paged search beats a search per member
            wanted = {dn.lower() for dn in dns}
            found = [e for e in await self._user_entries() if e["dn"].lower() in wanted]
        else:
            for dn in dns:
                found += await self._user_entries(base=dn, scope="base")
        users = [await self._user(e) for e in found if self._usable(e)]
        return sorted(users, key=lambda u: u.username.lower())

    async def groups_of(self, user_id: str) -> builtins.list[Group]:
        try:
            entry = await self._one_user_entry(self._id_clause(user_id))
        except NotFound:
            return []
        entries = await self._group_entries(eq(self.s.member_attr, entry["dn"]))
        return sorted((self._to_group(e) for e in entries), key=lambda g: g.name.lower())

    # --- foreign identities (local) -----------------------------------------------------------
    async def get_by_identity(self, issuer: str, subject: str) -> User:
        return await self.get(await self.local.identity(issuer, subject))

    async def link_identity(self, issuer: str, subject: str, user_id: str) -> None:
        await self.get(user_id)
        await self.local.link(issuer, subject, user_id)

    # --- changes ------------------------------------------------------------------------------
    @counts_change
    async def update(self, user_id: str, *, display_name: str | None = None,
                     email: str | None = None, role: str | None = None,
                     user_type: str | None = None, enabled: bool | None = None) -> User:
        """Role and user type are local (allowed read-only); name, e-mail and the enabled state
        are directory writes."""
        entry = await self._one_user_entry(self._id_clause(user_id))
        changes: dict[str, builtins.list[tuple[str, builtins.list[str]]]] = {}
        if display_name is not None:
            name = validate.display_name(display_name)
            if not name:
                raise BadRequest("the display name must not be empty")
            changes[self.s.displayname_attr] = [(MODIFY_REPLACE, [name])]
        if email is not None:
            value = validate.email(email)
            changes[self.s.mail_attr] = [(MODIFY_REPLACE, [value] if value else [])]
        if role is not None:
            validate.role(role)
        if user_type is not None:
            validate.user_type(user_type)
        if changes:
            self._require_write()
            await self._modify(entry["dn"], changes)
        if enabled is not None:
            await self._set_enabled(entry, enabled)
        if role is not None or user_type is not None:
            await self.local.set(user_id, role=role, user_type=user_type)
        self._forget(user_id)
        return await self.get(user_id)

    def _require_write(self) -> None:
        if not self.s.write_enabled:
            raise PermissionDenied(_READ_ONLY)

    async def _modify(self, dn: str, changes: dict[str, builtins.list[tuple[str, builtins.list[str]]]]) -> int:
        def modify(conn: Connection) -> int:
            conn.modify(dn, changes)
            return int((conn.result or {}).get("result", 0))

        code = await self.pool.run(modify)
        if code not in (0, _VALUE_EXISTS, _NO_SUCH_ATTRIBUTE):
            raise BadGateway(f"the LDAP server refused the change (result {code})")
        return code

    @counts_change
    async def create(self, *, username: str, password: str, display_name: str = "",
                     email: str = "", role: str = "user", user_id: str | None = None,
                     user_type: str = "Member") -> User:
        self._require_write()
        validate.username(username)
        validate.role(role)
        validate.user_type(user_type)
        validate.email(email)
        display_name = validate.display_name(display_name) or username
        s = self.s
        attrs: dict[str, Any] = {s.username_attr: username, "cn": display_name, "sn": username,
                                 s.displayname_attr: display_name}
        classes = ["inetOrgPerson", "organizationalPerson", "person", "top"]
        if email:
            attrs[s.mail_attr] = email
        if s.user_id_attr.lower() == "ownclouduuid":
            classes.append("ownCloud")
            attrs[s.user_id_attr] = user_id or new_id()
            attrs[s.user_type_attr] = user_type
        elif user_id is not None:
            raise BadRequest(f"this directory assigns user ids itself ({s.user_id_attr})")
        dn = f"{rdn(s.username_attr, username)},{s.user_base_dn}"
        await self._add(dn, classes, attrs, f"user {username!r} already exists")
        if password:
            await self._set_password_dn(dn, password)
        user = await self.get_by_name(username)
        await self.local.set(user.id, role=role, user_type=user_type)
        self._forget(user.id)
        return await self.get(user.id)

    async def _add(self, dn: str, classes: builtins.list[str], attrs: dict[str, Any], exists: str) -> None:
        def add(conn: Connection) -> tuple[int, str]:
            conn.add(dn, classes, attrs)
            result = conn.result or {}
            return int(result.get("result", 0)), str(result.get("description", ""))

        code, description = await self.pool.run(add)
        if code == _ALREADY_EXISTS:
            raise AlreadyExists(exists)
        if code != 0:
            raise BadGateway(f"the LDAP server refused the new entry ({description})")

    async def _set_password_dn(self, dn: str, password: str) -> None:
        """RFC 3062 password modify: the directory hashes the password by its own policy."""
        def modify(conn: Connection) -> int:
            conn.extend.standard.modify_password(dn, new_password=password)
            return int((conn.result or {}).get("result", 0))

        if await self.pool.run(modify) != 0:
            raise BadGateway("the LDAP server refused the password change")

    @counts_change
    async def set_password(self, user_id: str, password: str) -> None:
        if not password:
            raise BadRequest("the password must not be empty")
        self._require_write()
        entry = await self._one_user_entry(self._id_clause(user_id))
        await self._set_password_dn(entry["dn"], password)
        self._forget(user_id)

    @counts_change
    async def delete(self, user_id: str) -> None:
        self._require_write()
        entry = await self._one_user_entry(self._id_clause(user_id))
        for group in await self._group_entries(eq(self.s.member_attr, entry["dn"])):
            await self._modify(group["dn"], {self.s.member_attr: [(MODIFY_DELETE, [entry["dn"]])]})
        await self._delete_dn(entry["dn"])
        await self.local.forget(user_id)
        self._forget(user_id)

    async def _delete_dn(self, dn: str) -> None:
        def delete(conn: Connection) -> int:
            conn.delete(dn)
            return int((conn.result or {}).get("result", 0))

        code = await self.pool.run(delete)
        if code == _NO_SUCH_OBJECT:
            raise NotFound("entry not found")
        if code != 0:
            raise BadGateway(f"the LDAP server refused the deletion (result {code})")

    @counts_change
    async def create_group(self, *, name: str, description: str = "",
                           group_id: str | None = None) -> Group:
        self._require_write()
        validate.group_name(name)
        s = self.s
        # groupOfNames requires a member: an empty DN, as oCIS writes it, until one is added.
        attrs: dict[str, Any] = {s.groupname_attr: name, s.member_attr: [""]}
        if description:
            attrs["description"] = validate.display_name(description)
        classes = ["groupOfNames", "top"]
        if s.group_id_attr.lower() == "ownclouduuid":
            classes.append("ownCloud")
            attrs[s.group_id_attr] = group_id or new_id()
        elif group_id is not None:
            raise BadRequest(f"this directory assigns group ids itself ({s.group_id_attr})")
        dn = f"{rdn(s.groupname_attr, name)},{s.group_base_dn}"
        await self._add(dn, classes, attrs, f"group {name!r} already exists")
        return await self.get_group_by_name(name)

    @counts_change
    async def delete_group(self, group_id: str) -> None:
        self._require_write()
        entry = await self._group_entry(eq(self.s.group_id_attr, group_id))
        await self._delete_dn(entry["dn"])

    @counts_change
    async def add_member(self, group_id: str, user_id: str) -> None:
        self._require_write()
        group = await self._group_entry(eq(self.s.group_id_attr, group_id))
        user = await self._one_user_entry(self._id_clause(user_id))
        await self._modify(group["dn"], {self.s.member_attr: [(MODIFY_ADD, [user["dn"]])]})

    @counts_change
    async def remove_member(self, group_id: str, user_id: str) -> None:
        self._require_write()
        group = await self._group_entry(eq(self.s.group_id_attr, group_id))
        user = await self._one_user_entry(self._id_clause(user_id))
        code = await self._modify(group["dn"], {self.s.member_attr: [(MODIFY_DELETE, [user["dn"]])]})
        if code == _NO_SUCH_ATTRIBUTE:
            raise NotFound("the user is not a member of this group")

    async def close(self) -> None:
        await asyncio.gather(self.pool.close(), self.local.close())
