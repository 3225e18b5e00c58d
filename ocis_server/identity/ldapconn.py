"""The LDAP side of the LDAP user source: settings (oCIS's OCIS_LDAP_* names), a small pool of
bound ldap3 connections (one per worker thread, rebuilt when the server went away), escaping, and
reading attribute values out of search results. Blocking ldap3 calls run only on the pool's threads,
and a caller waits for them at most `timeout` seconds: a directory that hangs (or is away) is a
503 with Retry-After (ServiceUnavailable), never a request held for good.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ldap3 import BASE, LEVEL, NONE, SUBTREE, Connection, Server, Tls  # type: ignore[import-untyped]
from ldap3.core.exceptions import (  # type: ignore[import-untyped]
    LDAPCommunicationError,
    LDAPException,
)
from ldap3.utils.conv import escape_filter_chars  # type: ignore[import-untyped]
from ldap3.utils.dn import escape_rdn  # type: ignore[import-untyped]

from ocis_server.domain.errors import BadGateway, BadRequest, ServiceUnavailable

if TYPE_CHECKING:
    from ocis_server.config import Config

log = logging.getLogger("ocis.identity.ldap")
T = TypeVar("T")
SCOPES = {"sub": SUBTREE, "one": LEVEL, "base": BASE}


@dataclass(frozen=True, slots=True)
class LdapSettings:
    uri: str
    insecure: bool = False
    cacert: str = ""
    bind_dn: str = ""
    bind_password: str = ""
    user_base_dn: str = "ou=users,o=libregraph-idm"
    group_base_dn: str = "ou=groups,o=libregraph-idm"
    user_scope: str = "sub"
    group_scope: str = "sub"
    user_filter: str = ""
    group_filter: str = ""
    user_objectclass: str = "inetOrgPerson"
    group_objectclass: str = "groupOfNames"
    user_id_attr: str = "ownCloudUUID"
    user_id_is_octetstring: bool = False
    username_attr: str = "uid"
    mail_attr: str = "mail"
    displayname_attr: str = "displayName"
    user_type_attr: str = "ownCloudUserType"
    group_id_attr: str = "ownCloudUUID"
    groupname_attr: str = "cn"
    member_attr: str = "member"
    disable_mechanism: str = "attribute"
    enabled_attr: str = "ownCloudUserEnabled"
    disabled_group_dn: str = ""
    write_enabled: bool = False
    pool_size: int = 4
    admin_user_id: str = ""
    timeout: float = 10.0         # seconds a caller waits for the directory (USERS_LDAP_TIMEOUT)

    @classmethod
    def from_config(cls, c: Config) -> LdapSettings:
        settings = cls(
            uri=c.ldap_uri, insecure=c.ldap_insecure, cacert=c.ldap_cacert, bind_dn=c.ldap_bind_dn,
            bind_password=c.ldap_bind_password, user_base_dn=c.ldap_user_base_dn,
            group_base_dn=c.ldap_group_base_dn, user_scope=c.ldap_user_scope,
            group_scope=c.ldap_group_scope, user_filter=c.ldap_user_filter,
            group_filter=c.ldap_group_filter, user_objectclass=c.ldap_user_objectclass,
            group_objectclass=c.ldap_group_objectclass, user_id_attr=c.ldap_user_schema_id,
            user_id_is_octetstring=c.ldap_user_schema_id_is_octetstring,
            username_attr=c.ldap_user_schema_username, mail_attr=c.ldap_user_schema_mail,
            displayname_attr=c.ldap_user_schema_displayname,
            user_type_attr=c.ldap_user_schema_user_type, group_id_attr=c.ldap_group_schema_id,
            groupname_attr=c.ldap_group_schema_groupname, member_attr=c.ldap_group_schema_member,
            disable_mechanism=c.ldap_disable_user_mechanism,
            enabled_attr=c.ldap_user_enabled_attribute,
            disabled_group_dn=c.ldap_disabled_users_group_dn, write_enabled=c.ldap_write_enabled,
            pool_size=c.ldap_pool_size, admin_user_id=c.admin_user_id, timeout=c.ldap_timeout)
        settings.validate()
        return settings

    def validate(self) -> None:
        if urlsplit(self.uri).scheme not in ("ldap", "ldaps"):
            raise BadRequest(f"OCIS_LDAP_URI must be ldap:// or ldaps://, got {self.uri!r}")
        for name in ("user_scope", "group_scope"):
            if getattr(self, name) not in SCOPES:
                raise BadRequest(f"{name} must be one of sub, one, base")
        if self.disable_mechanism not in ("attribute", "group", "none"):
            raise BadRequest("disable_user_mechanism must be attribute, group or none")
        for extra in (self.user_filter, self.group_filter):
            if extra and not (extra.startswith("(") and extra.endswith(")")):
                raise BadRequest(f"an LDAP filter must be parenthesised: {extra!r}")
        if self.pool_size < 1:
            raise BadRequest("the LDAP pool size must be at least 1")
        if not self.timeout > 0:
            raise BadRequest("the LDAP time-out must be more than 0 seconds")


def eq(attr: str, value: str) -> str:
    """`(attr=value)` with the value escaped (RFC 4515), so input never becomes filter syntax."""
    return f"({attr}={escape_filter_chars(value)})"


def rdn(attr: str, value: str) -> str:
    return f"{attr}={escape_rdn(value)}"


def values(entry: dict[str, Any], attr: str) -> list[bytes]:
    raw = entry.get("raw_attributes") or {}
    for key, found in raw.items():          # attribute names are case-insensitive
        if key.lower() == attr.lower():
            return [v for v in found if isinstance(v, bytes)]
    return []


def first(entry: dict[str, Any], attr: str) -> str:
    found = values(entry, attr)
    return found[0].decode("utf-8", "replace") if found else ""


def entry_id(entry: dict[str, Any], attr: str, *, octet: bool) -> str:
    """The immutable id: text (ownCloudUUID, entryUUID) or a binary GUID (AD objectGUID)."""
    found = values(entry, attr)
    if not found:
        return ""
    if octet:
        return str(uuid.UUID(bytes_le=found[0])) if len(found[0]) == 16 else found[0].hex()
    return found[0].decode("utf-8", "replace").lower()


class LdapPool:
    """`pool_size` worker threads, each with its own bound connection, rebuilt after a
    connection failure; an operation that met a dead connection is retried once on a fresh one."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self._server = self._make_server()
        self._executor = ThreadPoolExecutor(max_workers=settings.pool_size,
                                            thread_name_prefix="ldap")
        self._local = threading.local()
        self._open: set[Connection] = set()
        self._lock = threading.Lock()

    @property
    def _socket_timeout(self) -> int:
        """ldap3 wants whole seconds for its socket time-outs."""
        return max(1, math.ceil(self.settings.timeout))

    def _make_server(self) -> Server:
        parts = urlsplit(self.settings.uri)
        tls = Tls(validate=ssl.CERT_NONE if self.settings.insecure else ssl.CERT_REQUIRED,
                  ca_certs_file=self.settings.cacert or None)
        return Server(parts.hostname or "localhost", port=parts.port,
                      use_ssl=parts.scheme == "ldaps", tls=tls, get_info=NONE,
                      connect_timeout=min(5, self._socket_timeout))

    def _connect(self, user: str | None, password: str | None) -> Connection:
        return Connection(self._server, user=user, password=password, raise_exceptions=False,
                          receive_timeout=self._socket_timeout, read_only=False)

    def _service_connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and conn.bound:
            return conn
        conn = self._connect(self.settings.bind_dn or None, self.settings.bind_password or None)
        if not conn.bind():
            description = (conn.result or {}).get("description", "bind failed")
            conn.unbind()
            raise BadGateway(f"the LDAP server refused the service bind ({description})")
        self._local.conn = conn
        with self._lock:
            self._open.add(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        # ldap3 remembers a failed address as unavailable for a while: start afresh.
        self._server = self._make_server()
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            try:
                conn.unbind()
            except LDAPException:
                pass

    def _call(self, fn: Callable[[Connection], T]) -> T:
        for attempt in (1, 2):
            try:
                return fn(self._service_connection())
            except LDAPCommunicationError as exc:
                self._drop()
                if attempt == 2:
                    log.warning("LDAP server %s unreachable: %s", self.settings.uri, exc)
                    raise ServiceUnavailable("the LDAP server is unreachable",
                                             retry_after=self.settings.timeout) from None
        raise AssertionError("unreachable")

    async def _bounded(self, fn: Callable[[], T]) -> T:
        """`fn` on a pool thread, waited for at most `timeout` seconds. A call still queued
        behind hung ones is cancelled; a hung one ends at the socket's receive time-out."""
        timeout = self.settings.timeout
        try:
            return await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._executor, fn), timeout)
        except TimeoutError:
            log.warning("LDAP server %s did not answer within %.1f s", self.settings.uri, timeout)
            raise ServiceUnavailable(f"the LDAP server does not answer (waited {timeout:g} s)",
                                     retry_after=timeout) from None

    async def run(self, fn: Callable[[Connection], T]) -> T:
        return await self._bounded(lambda: self._call(fn))

    async def check_password(self, dn: str, password: str) -> bool:
        """A simple bind as the user on a connection of its own (never the pooled ones)."""
        if not password:      # an empty password is an unauthenticated bind (RFC 4513 5.1.2)
            return False

        def bind() -> bool:
            conn = self._connect(dn, password)
            try:
                return bool(conn.bind())
            except LDAPCommunicationError:
                raise ServiceUnavailable("the LDAP server is unreachable",
                                         retry_after=self.settings.timeout) from None
            finally:
                try:
                    conn.unbind()
                except LDAPException:
                    pass

        return await self._bounded(bind)

    async def close(self) -> None:
        def unbind_all() -> None:
            with self._lock:
                conns, self._open = list(self._open), set()
            for conn in conns:
                try:
                    conn.unbind()
                except LDAPException:
                    pass

        try:
            await self._bounded(unbind_all)
        except ServiceUnavailable:
            pass                   # a directory that hangs is not waited for at close
        self._executor.shutdown(wait=False, cancel_futures=True)


def search(conn: Connection, base: str, scope: str, filt: str,
           attributes: Sequence[str]) -> list[dict[str, Any]]:
    """Every entry (paged, RFC 2696); a missing base is an empty result, other errors a 502."""
    entries = conn.extend.standard.paged_search(base, filt, search_scope=SCOPES.get(scope, scope),
                                                attributes=list(attributes), paged_size=500,
                                                generator=False)
    result = conn.result or {}
    if result.get("result", 0) not in (0, 32):     # success, noSuchObject
        if conn.closed:
            raise LDAPCommunicationError("connection closed")
        raise BadGateway(f"LDAP search failed: {result.get('description', 'error')}")
    return [e for e in entries or [] if e.get("type") == "searchResEntry"]
