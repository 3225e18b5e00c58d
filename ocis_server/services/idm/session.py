"""One LDAP connection's operations: Bind, Search (scopes, limits, paged results), Compare,
the StartTLS, WhoAmI and Password Modify (RFC 3062: users change their own password) extended
operations, Unbind; every other write answers unwillingToPerform.
The transport (server.py) feeds decoded requests and writes what `handle` yields."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ocis_server.auth.logins import LoginThrottle
from ocis_server.auth.throttle import address_key
from ocis_server.domain.errors import BadRequest, PermissionDenied, TooManyRequests
from ocis_server.identity import UserStore

from . import ber
from . import dn as dnlib
from .config import MAX_PAGED_SEARCHES, IdmSettings
from .directory import (
    PASSWORD_MODIFY_OID,
    SCOPE_ONE,
    SCOPE_SUB,
    STARTTLS_OID,
    WHOAMI_OID,
    Directory,
    DirectoryView,
    Entry,
    root_dse,
)
from .match import evaluate, select

WRITES = frozenset({"modifyRequest", "addRequest", "delRequest", "modDNRequest"})
CONFIDENTIALITY_REQUIRED = 13
THROTTLE_SOURCE = "ldap"    # bind failures in the shared login throttle (auth/logins.py)
INVALID_DN_SYNTAX = 34
MAX_PASSWORD = 1024          # as Graph's password changes


@dataclass(slots=True)
class _Paged:
    signature: tuple[object, ...]       # the search a cookie belongs to must not change
    entries: list[Entry]
    offset: int


class Session:
    def __init__(self, settings: IdmSettings, view: DirectoryView, users: UserStore,
                 throttle: LoginThrottle, peer: str, *, tls: bool) -> None:
        self.settings, self.view, self.users = settings, view, users
        self.throttle = throttle     # failed logins on every password path (auth/logins.py)
        self.peer = peer
        self.tls = tls
        self.bound_dn = ""               # "" = anonymous
        self.authenticated = False
        self.start_tls = False           # set: the transport upgrades after sending the response
        self.closing = False             # set: the transport closes after sending the response
        self._paged: dict[bytes, _Paged] = {}

    async def handle(self, req: ber.Request) -> AsyncIterator[bytes]:
        critical = [c for c in req.controls if c.critical and
                    not (c.oid == ber.PAGED_RESULTS_OID and req.op == "searchRequest")]
        if req.op == "unbindRequest":
            self.closing = True
            return
        if req.op == "abandonRequest":   # operations run one at a time: nothing left to abandon
            return
        if critical and req.op in ber.ANSWERED:
            yield ber.encode_result(req.message_id, req.op, ber.UNAVAILABLE_CRITICAL_EXTENSION,
                                    f"control {critical[0].oid} is not supported")
            return
        if req.op in WRITES:
            yield ber.encode_result(req.message_id, req.op, ber.UNWILLING_TO_PERFORM,
                                    "this directory is read-only")
        elif req.op == "bindRequest":
            yield await self._bind(req)
        elif req.op == "searchRequest":
            async for chunk in self._search(req):
                yield chunk
        elif req.op == "compareRequest":
            yield await self._compare(req)
        elif req.op == "extendedReq":
            yield await self._extended(req)

    # --- bind ------------------------------------------------------------------------------
    async def _bind(self, req: ber.Request) -> bytes:
        body = req.body
        self.bound_dn, self.authenticated = "", False      # a bind resets the state (§4.2.1)
        self._paged.clear()

        def result(code: int, message: str = "") -> bytes:
            return ber.encode_result(req.message_id, req.op, code, message)

        if body["version"] != 3:
            return result(ber.PROTOCOL_ERROR, "only LDAPv3 is supported")
        if body["auth"] != "simple":
            return result(ber.AUTH_METHOD_NOT_SUPPORTED, "only simple bind is supported")
        name, password = body["name"], body["password"]
        if not name and not password:                       # anonymous bind (RFC 4513 §5.1.1)
            if self.settings.allow_anonymous:
                return result(ber.SUCCESS)
            return result(ber.INAPPROPRIATE_AUTHENTICATION, "anonymous bind is not allowed")
        if not password:                                    # unauthenticated bind (§5.1.2)
            return result(ber.UNWILLING_TO_PERFORM, "unauthenticated bind is not allowed")
        if not self.tls:
            return result(CONFIDENTIALITY_REQUIRED, "use StartTLS or LDAPS before binding")
        try:
            key = dnlib.normalize(name)
        except dnlib.InvalidDN:
            return result(ber.INVALID_CREDENTIALS, "invalid credentials")
        directory = await self.view.snapshot()
        account, address = _account_key(directory, key), address_key(self.peer)
        try:
            await self.throttle.admit(account, address)
        except TooManyRequests:     # same answer as a wrong password: no oracle while locked
            return result(ber.INVALID_CREDENTIALS, "invalid credentials")
        entry_dn = await self._verify(directory, key, password)
        if entry_dn is None:
            await self.throttle.failed(account, address, source=THROTTLE_SOURCE)
            return result(ber.INVALID_CREDENTIALS, "invalid credentials")
        self.throttle.success(account, address, source=THROTTLE_SOURCE)
        self.bound_dn, self.authenticated = entry_dn, True
        return result(ber.SUCCESS)

    async def _verify(self, directory: Directory, key: str, password: bytes) -> str | None:
        """The DN of the entry `key` names when `password` is its password."""
        entry = directory.get(key)
        if entry is None:
            return None
        service = directory.sysusers.get(key)
        if service is not None:
            expected = self.settings.sysusers.get(service, "").encode("utf-8")
            return entry.dn if expected and hmac.compare_digest(expected, password) else None
        username = directory.users.get(key)
        if username is None:
            return None
        try:
            text = password.decode("utf-8")
        except UnicodeDecodeError:
            return None
        user = await self.users.authenticate(username, text)
        return entry.dn if user is not None else None

    # --- search ----------------------------------------------------------------------------
    def _may_read(self) -> bool:
        return self.authenticated or self.settings.allow_anonymous

    async def _search(self, req: ber.Request) -> AsyncIterator[bytes]:
        body = req.body
        started = time.monotonic()
        done = self._done(req)
        if body["scope"] not in (0, 1, 2, 3):     # base, one, sub, subordinates (draft-sermersheim)
            yield done(ber.PROTOCOL_ERROR, "unknown search scope")
            return
        try:
            base = dnlib.normalize(body["base"])
        except dnlib.InvalidDN:
            yield done(INVALID_DN_SYNTAX, "invalid base DN")
            return
        if base == "" and body["scope"] == 0:               # the root DSE, readable by anyone
            entry = root_dse()
            if evaluate(body["filter"], entry) is True:
                yield ber.encode_entry(req.message_id, "", select(entry, body["attributes"],
                                                                 types_only=body["types_only"]))
            yield done(ber.SUCCESS)
            return
        if not self._may_read():
            yield done(ber.INSUFFICIENT_ACCESS, "bind first: anonymous reads are not allowed")
            return
        directory = await self.view.snapshot()
        paged = next((c for c in req.controls if c.oid == ber.PAGED_RESULTS_OID), None)
        if paged is not None:
            async for chunk in self._paged_search(req, directory, base, paged):
                yield chunk
            return
        if base and directory.get(base) is None:
            yield done(ber.NO_SUCH_OBJECT, "no such entry", directory.matched(base))
            return
        limit = _limit(body["size_limit"], self.settings.size_limit)
        deadline = _deadline(started, body["time_limit"], self.settings.time_limit)
        sent = 0
        for entry in _candidates(directory, base, body["scope"]):
            if deadline is not None and time.monotonic() > deadline:
                yield done(ber.TIME_LIMIT_EXCEEDED, "time limit exceeded")
                return
            if evaluate(body["filter"], entry) is not True:
                continue
            if limit and sent >= limit:
                yield done(ber.SIZE_LIMIT_EXCEEDED, "size limit exceeded")
                return
            yield ber.encode_entry(req.message_id, entry.dn,
                                   select(entry, body["attributes"], types_only=body["types_only"]))
            sent += 1
        yield done(ber.SUCCESS)

    async def _paged_search(self, req: ber.Request, directory: Directory, base: str,
                            control: ber.Control) -> AsyncIterator[bytes]:
        """RFC 2696: the first request (empty cookie) evaluates the filter once; each page then
        sends the next `size` entries and a cookie for the rest (empty when done)."""
        body = req.body
        done = self._done(req)
        size, cookie = ber.paged_request(control.value)
        signature = (base, body["scope"], body["filter"], body["attributes"], body["types_only"])
        if cookie:
            state = self._paged.get(cookie)
            if state is None or state.signature != signature:
                yield done(ber.UNWILLING_TO_PERFORM, "unknown or stale paged results cookie")
                return
            del self._paged[cookie]
        else:
            if base and directory.get(base) is None:
                yield done(ber.NO_SUCH_OBJECT, "no such entry", directory.matched(base))
                return
            matches = [e for e in _candidates(directory, base, body["scope"])
                       if evaluate(body["filter"], e) is True]
            limit = _limit(body["size_limit"], 0)
            state = _Paged(signature, matches[:limit] if limit else matches, 0)
        if size == 0:                                       # abandon the paged search
            yield done(ber.SUCCESS, controls=[ber.paged_response(0, b"")])
            return
        page = state.entries[state.offset:state.offset + size]
        for entry in page:
            yield ber.encode_entry(req.message_id, entry.dn,
                                   select(entry, body["attributes"], types_only=body["types_only"]))
        state.offset += len(page)
        next_cookie = b""
        if state.offset < len(state.entries):
            while len(self._paged) >= MAX_PAGED_SEARCHES:   # the oldest open result set goes
                self._paged.pop(next(iter(self._paged)))
            next_cookie = secrets.token_bytes(12)
            self._paged[next_cookie] = state
        yield done(ber.SUCCESS, controls=[ber.paged_response(len(state.entries), next_cookie)])

    @staticmethod
    def _done(req: ber.Request) -> Callable[..., bytes]:
        """searchResultDone for `req`: done(code, message="", matched="", controls=None)."""
        def done(code: int, message: str = "", matched: str = "", *,
                 controls: list[ber.Control] | None = None) -> bytes:
            return ber.encode_result(req.message_id, req.op, code, message, matched_dn=matched,
                                     controls=controls)
        return done

    # --- compare, extended ------------------------------------------------------------------
    async def _compare(self, req: ber.Request) -> bytes:
        body = req.body

        def result(code: int, message: str = "", matched: str = "") -> bytes:
            return ber.encode_result(req.message_id, req.op, code, message, matched_dn=matched)

        if not self._may_read():
            return result(ber.INSUFFICIENT_ACCESS, "bind first: anonymous reads are not allowed")
        try:
            key = dnlib.normalize(body["entry"])
        except dnlib.InvalidDN:
            return result(INVALID_DN_SYNTAX, "invalid DN")
        directory = await self.view.snapshot()
        entry = directory.get(key)
        if entry is None:
            return result(ber.NO_SUCH_OBJECT, "no such entry", directory.matched(key))
        attr = dnlib.attr_key(body["attr"])
        if attr == "userpassword" or not entry.values(attr):
            return result(ber.NO_SUCH_ATTRIBUTE, "no such attribute")
        verdict = evaluate(ber.Compare("equality", body["attr"], body["value"]), entry)
        return result(ber.COMPARE_TRUE if verdict else ber.COMPARE_FALSE)

    async def _extended(self, req: ber.Request) -> bytes:
        oid = req.body["oid"]

        def result(code: int, message: str = "", value: bytes | None = None,
                   name: str | None = None) -> bytes:
            return ber.encode_result(req.message_id, req.op, code, message,
                                     response_name=name, response_value=value)

        if oid == WHOAMI_OID:                               # RFC 4532
            return result(ber.SUCCESS, value=(f"dn:{self.bound_dn}" if self.authenticated
                                              else "").encode("utf-8"))
        if oid == STARTTLS_OID:                             # RFC 4511 §4.14
            if self.tls or self.start_tls:
                return result(ber.OPERATIONS_ERROR, "TLS is already active", name=STARTTLS_OID)
            self.start_tls = True
            return result(ber.SUCCESS, name=STARTTLS_OID)
        if oid == PASSWORD_MODIFY_OID:
            try:
                code, message = await self._password_modify(req.body["value"])
            except ber.MalformedPDU as exc:
                code, message = ber.PROTOCOL_ERROR, str(exc)
            return result(code, message)
        return result(ber.PROTOCOL_ERROR, f"unsupported extended operation {oid}")

    async def _password_modify(self, value: bytes | None) -> tuple[int, str]:
        """RFC 3062 for a bound user changing their own password: the old password is required
        and checked through the login throttle like a bind (a session's holder cannot guess it
        here either); no generated passwords. (result code, message)"""
        identity, old, new = ber.password_modify_request(value)
        if not self.tls:
            return CONFIDENTIALITY_REQUIRED, "use StartTLS or LDAPS"
        directory = await self.view.snapshot()
        username = directory.users.get(dnlib.normalize(self.bound_dn)) if self.authenticated \
            else None
        if username is None:
            return ber.INSUFFICIENT_ACCESS, "bind as the user whose password changes"
        if identity is not None:
            try:
                same = dnlib.normalize(identity.decode("utf-8")) == dnlib.normalize(self.bound_dn)
            except (UnicodeDecodeError, dnlib.InvalidDN):
                same = False
            if not same:
                return ber.INSUFFICIENT_ACCESS, "only your own password can be changed"
        if not old or not new:
            return ber.UNWILLING_TO_PERFORM, "the old and the new password are required"
        try:
            old_text, new_text = old.decode("utf-8"), new.decode("utf-8")
        except UnicodeDecodeError:
            return ber.CONSTRAINT_VIOLATION, "passwords must be UTF-8"
        if len(new_text) > MAX_PASSWORD or "\x00" in new_text:
            return ber.CONSTRAINT_VIOLATION, "the new password is not acceptable"
        account, address = f"user:{username.lower()}", address_key(self.peer)
        try:
            await self.throttle.admit(account, address)
        except TooManyRequests:     # as a wrong password: no oracle while locked
            return ber.INVALID_CREDENTIALS, "invalid credentials"
        user = await self.users.authenticate(username, old_text)
        if user is None:
            await self.throttle.failed(account, address, source=THROTTLE_SOURCE)
            return ber.INVALID_CREDENTIALS, "invalid credentials"
        self.throttle.success(account, address, source=THROTTLE_SOURCE)
        try:
            await self.users.set_password(user.id, new_text)
        except PermissionDenied:
            return ber.UNWILLING_TO_PERFORM, "the user directory is read-only"
        except BadRequest as exc:
            return ber.CONSTRAINT_VIOLATION, exc.message
        return ber.SUCCESS, ""


def _account_key(directory: Directory, dn: str) -> str:
    """The throttle key of a bind DN: a user's DN counts as the account `user:<name>` (as at
    the proxy and the IdP); service accounts and unknown DNs count by their normalized DN."""
    username = directory.users.get(dn)
    return f"user:{username.lower()}" if username else f"ldap:{dn}"


def _candidates(directory: Directory, base: str, scope: int) -> list[Entry]:
    if base:
        return list(directory.scope(base, scope))
    roots = [e for e in directory.entries.values() if not e.parent]   # below the root DSE
    if scope == SCOPE_ONE:
        return roots
    return [e for root in roots for e in directory.scope(root.key, SCOPE_SUB)]


def _limit(client: int, server: int) -> int:
    limits = [x for x in (client, server) if x > 0]
    return min(limits) if limits else 0


def _deadline(started: float, client: int, server: int) -> float | None:
    limit = _limit(client, server)
    return started + limit if limit else None
