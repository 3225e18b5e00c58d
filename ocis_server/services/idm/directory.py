"""The LDAP tree idm serves, built from the user store as oCIS's idm lays it out
(`services/idm/ldif/base.ldif.tmpl`): `o=libregraph-idm` with `ou=users` (inetOrgPerson + ownCloud
attributes), `ou=groups` (groupOfNames) and `ou=sysusers` (service accounts). Read-only snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ocis_server.identity import Group, User, UserStore

from . import dn as dnlib

BASE_DN = "o=libregraph-idm"
USERS_DN = f"ou=users,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
SYSUSERS_DN = f"ou=sysusers,{BASE_DN}"

SCOPE_BASE, SCOPE_ONE, SCOPE_SUB, SCOPE_CHILDREN = 0, 1, 2, 3

# attributes whose values are DNs (distinguishedNameMatch); every other one is caseIgnoreMatch
DN_ATTRIBUTES = frozenset({"member", "memberof", "entrydn", "namingcontexts", "subschemasubentry"})
OPERATIONAL = frozenset({"entryuuid", "entrydn", "hassubordinates", "structuralobjectclass",
                         "subschemasubentry"})
KNOWN = frozenset({
    "objectclass", "o", "ou", "uid", "cn", "sn", "displayname", "mail", "owncloudusertype",
    "owncloudclientuserenabled", "ownclouduuid", "ownclouduserenabled", "memberof", "member",
    "description", "userpassword", "namingcontexts", "supportedldapversion",
    "supportedextension", "supportedcontrol", "supportedsaslmechanisms", "vendorname",
    "vendorversion", "givenname", *OPERATIONAL})

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
WHOAMI_OID = "1.3.6.1.4.1.4203.1.11.3"
PASSWORD_MODIFY_OID = "1.3.6.1.4.1.4203.1.11.1"     # RFC 3062
PAGED_OID = "1.2.840.113556.1.4.319"


@dataclass(slots=True)
class Entry:
    dn: str                                   # as served
    key: str                                  # canonical form (dn.normalize)
    parent: str                               # canonical parent, "" for the base
    attrs: dict[str, tuple[str, list[str]]] = field(default_factory=dict)   # key -> (name, values)

    def add(self, name: str, *values: str) -> None:
        values_ = [v for v in values if v != ""]
        if values_:
            key = dnlib.attr_key(name)
            current = self.attrs.get(key)
            if current is None:
                self.attrs[key] = (name, values_)
            else:
                current[1].extend(values_)

    def values(self, key: str) -> list[str] | None:
        found = self.attrs.get(key)
        return found[1] if found else None


@dataclass(slots=True)
class Directory:
    entries: dict[str, Entry]
    children: dict[str, list[str]]
    users: dict[str, str]         # canonical DN -> username (bind checks the user store)
    sysusers: dict[str, str]      # canonical DN -> service account name

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def scope(self, base: str, scope: int) -> Iterator[Entry]:
        """Entries in `scope` of the entry `base` (canonical), in tree order."""
        start = self.entries.get(base)
        if start is None:
            return
        if scope == SCOPE_BASE:
            yield start
            return
        if scope in (SCOPE_SUB,):
            yield start
        stack = list(reversed(self.children.get(base, [])))
        while stack:
            key = stack.pop()
            yield self.entries[key]
            if scope != SCOPE_ONE:
                stack.extend(reversed(self.children.get(key, [])))

    def matched(self, key: str) -> str:
        """The longest existing ancestor of a missing entry (LDAPResult matchedDN)."""
        parsed = dnlib.parse(key)
        for start in range(1, len(parsed) + 1):
            found = self.entries.get(dnlib.canonical(parsed[start:]))
            if found is not None:
                return found.dn
        return ""


def _user_entry(user: User, groups: list[str]) -> Entry:
    dn = f"uid={dnlib.escape_value(user.username)},{USERS_DN}"
    entry = Entry(dn, dnlib.normalize(dn), dnlib.normalize(USERS_DN))
    entry.add("objectClass", "inetOrgPerson", "organizationalPerson", "ownCloud", "person", "top")
    entry.add("uid", user.username)
    entry.add("cn", user.username)
    entry.add("sn", user.username)
    entry.add("displayName", user.display_name or user.username)
    entry.add("mail", user.email)
    entry.add("ownCloudUUID", user.id)
    entry.add("ownCloudUserType", user.user_type)
    entry.add("ownCloudUserEnabled", "TRUE" if user.enabled else "FALSE")
    entry.add("memberOf", *groups)
    _operational(entry, user.id, "inetOrgPerson", leaf=True)
    return entry


def _group_entry(group: Group, members: list[str]) -> Entry:
    dn = f"cn={dnlib.escape_value(group.name)},{GROUPS_DN}"
    entry = Entry(dn, dnlib.normalize(dn), dnlib.normalize(GROUPS_DN))
    entry.add("objectClass", "groupOfNames", "ownCloud", "top")
    entry.add("cn", group.name)
    entry.add("description", group.description)
    entry.add("ownCloudUUID", group.id)
    entry.add("member", *members)
    _operational(entry, group.id, "groupOfNames", leaf=True)
    return entry


def _container(dn: str, parent: str, rdn_attr: str, name: str, object_class: str) -> Entry:
    entry = Entry(dn, dnlib.normalize(dn), dnlib.normalize(parent) if parent else "")
    entry.add("objectClass", object_class, "top")
    entry.add(rdn_attr, name)
    _operational(entry, "", object_class, leaf=False)
    return entry


def _operational(entry: Entry, uuid: str, structural: str, *, leaf: bool) -> None:
    entry.add("entryUUID", uuid)
    entry.add("entryDN", entry.dn)
    entry.add("hasSubordinates", "FALSE" if leaf else "TRUE")
    entry.add("structuralObjectClass", structural)


def _sysuser_entry(name: str) -> Entry:
    dn = f"uid={dnlib.escape_value(name)},{SYSUSERS_DN}"
    entry = Entry(dn, dnlib.normalize(dn), dnlib.normalize(SYSUSERS_DN))
    entry.add("objectClass", "account", "simpleSecurityObject", "top")
    entry.add("uid", name)
    entry.add("description", f"service account {name}")
    _operational(entry, "", "account", leaf=True)
    return entry


async def build(users: UserStore, sysusers: Mapping[str, str]) -> Directory:
    """One consistent-enough snapshot of the store as an LDAP tree."""
    all_users = await users.list()
    groups = await users.list_groups()
    members = {g.id: await users.members(g.id) for g in groups}
    user_dn = {u.id: f"uid={dnlib.escape_value(u.username)},{USERS_DN}" for u in all_users}
    group_dn = {g.id: f"cn={dnlib.escape_value(g.name)},{GROUPS_DN}" for g in groups}
    member_of: dict[str, list[str]] = {}
    for group_id, people in members.items():
        for person in people:
            member_of.setdefault(person.id, []).append(group_dn[group_id])
    entries = [_container(BASE_DN, "", "o", "libregraph-idm", "organization"),
               _container(USERS_DN, BASE_DN, "ou", "users", "organizationalUnit"),
               _container(GROUPS_DN, BASE_DN, "ou", "groups", "organizationalUnit"),
               _container(SYSUSERS_DN, BASE_DN, "ou", "sysusers", "organizationalUnit")]
    entries += [_user_entry(u, member_of.get(u.id, [])) for u in all_users]
    entries += [_group_entry(g, [user_dn[p.id] for p in members[g.id] if p.id in user_dn])
                for g in groups]
    entries += [_sysuser_entry(name) for name in sysusers]
    by_key: dict[str, Entry] = {}
    children: dict[str, list[str]] = {}
    for entry in entries:
        by_key[entry.key] = entry
        if entry.parent:
            children.setdefault(entry.parent, []).append(entry.key)
    return Directory(by_key, children,
                     {dnlib.normalize(user_dn[u.id]): u.username for u in all_users},
                     {dnlib.normalize(f"uid={dnlib.escape_value(n)},{SYSUSERS_DN}"): n
                      for n in sysusers})


def root_dse() -> Entry:
    """RFC 4512 §5.1: what a client learns before binding."""
    entry = Entry("", "", "")
    entry.add("objectClass", "top")
    entry.add("namingContexts", BASE_DN)
    entry.add("supportedLDAPVersion", "3")
    entry.add("supportedExtension", STARTTLS_OID, WHOAMI_OID, PASSWORD_MODIFY_OID)
    entry.add("supportedControl", PAGED_OID)
    entry.add("vendorName", "ocis-py")
    entry.add("vendorVersion", "idm")
    return entry


class DirectoryView:
    """Snapshots of the tree, never built concurrently. One is reused (paged and repeated
    searches) until the store reports a change made through it (UserStore.changes: a user or
    group made through Graph is there at the next operation), or, for changes made behind the
    store's back (an external LDAP directory), until it is `ttl` seconds old."""

    def __init__(self, users: Callable[[], UserStore], sysusers: Mapping[str, str],
                 ttl: float = 1.0) -> None:
        self._users = users       # the runtime may swap the store (a restarted users service)
        self._sysusers = dict(sysusers)
        self.ttl = ttl             # for changes the store does not see (an external directory)
        self._current: Directory | None = None
        self._built = 0.0
        self._seen: tuple[int, int] = (0, -1)     # (id of the store, its change count) built
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._current = None

    async def snapshot(self) -> Directory:
        async with self._lock:
            now = time.monotonic()
            users = self._users()
            seen = (id(users), users.changes)      # read before building: a change made
            if self._current is None or seen != self._seen or now - self._built > self.ttl:
                self._current = await build(users, self._sysusers)   # meanwhile rebuilds next
                self._built, self._seen = now, seen
            return self._current
