"""Pre-signed URLs as oCIS's proxy checks them (`services/proxy/pkg/middleware/signed_url_auth.go`):
a URL carrying `OC-Credential` (the user name), `OC-Date` (RFC 3339), `OC-Expires` (seconds),
`OC-Verb`, `OC-Algo` and `OC-Signature` = hex(PBKDF2-HMAC-SHA512(url, the user's signing key,
10000 iterations, 32 bytes)), where `url` is `https://<Host><path>?<other query, sorted and
encoded as Go's url.Values.Encode>&OC-Credential=..&OC-Date=..&OC-Expires=..&OC-Verb=..`.
The signing key is the user's (storage `signing_key`, handed out by OCS `cloud/user/signing-key`).
Every failure is the same Unauthenticated: the reason goes to the log, never to the client.

A check costs tens of milliseconds of CPU (PBKDF2), so a forger must not be able to buy it in
bulk: failures are throttled per (credential, client address) and per address before any PBKDF2
runs (429), at most `max_running` checks compute at once and `max_waiting` more may queue (429
beyond), and a URL already verified with the same key is not computed again (a bounded memo),
so a page loading the same signed URL many times pays once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from ocis_server.domain.errors import NotFound, TooManyRequests, Unauthenticated
from ocis_server.identity import User, UserStore

from .throttle import Throttle, address_key

log = logging.getLogger("ocis.auth")

SIGNATURE, CREDENTIAL, DATE, EXPIRES, VERB, ALGO = (
    "OC-Signature", "OC-Credential", "OC-Date", "OC-Expires", "OC-Verb", "OC-Algo")
REQUIRED = (SIGNATURE, CREDENTIAL, DATE, EXPIRES, VERB)
SIGNED = (CREDENTIAL, DATE, EXPIRES, VERB)           # in this order, after the other parameters
ALGORITHM = "PBKDF2/10000-SHA512"
ITERATIONS, LENGTH = 10000, 32
_MEMO_SIZE = 1024          # verified (url, key) pairs remembered


def new_key() -> str:
    """A fresh signing key as oCIS's ocs service makes one: 64 random bytes, hex encoded; the
    hex text itself is the PBKDF2 salt."""
    return secrets.token_hex(64)


def _encode(pairs: Iterable[tuple[str, str]]) -> str:
    """Go's url.Values.Encode: sorted by key (values in order), QueryEscape'd (space is `+`)."""
    return "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}"
                    for k, v in sorted(pairs, key=lambda kv: kv[0]))


def string_to_sign(scheme: str, host: str, raw_path: str,
                   query: Sequence[tuple[str, str]]) -> str:
    """The URL the signature covers: the request's path as sent, the parameters other than the
    OC-* ones first, then the four signed OC-* parameters."""
    first = {key: value for key, value in reversed(query)}       # Go's Get: the first value
    rest = [(k, v) for k, v in query if k not in (*SIGNED, SIGNATURE, ALGO)]
    signed = _encode((key, first.get(key, "")) for key in SIGNED)
    encoded = f"{_encode(rest)}&{signed}" if rest else signed
    return f"{scheme}://{host}{raw_path}?{encoded}"


def signature(url: str, key: str) -> str:
    return hashlib.pbkdf2_hmac("sha512", url.encode(), key.encode(), ITERATIONS, LENGTH).hex()


def _valid_until(date: str, expires: str) -> float:
    """OC-Date + OC-Expires as a POSIX time; ValueError for anything unreadable."""
    when = datetime.fromisoformat(date)
    if when.tzinfo is None:
        raise ValueError("OC-Date needs a time zone (RFC 3339)")
    seconds = float(expires)
    if not math.isfinite(seconds):
        raise ValueError("OC-Expires is not a number of seconds")
    return when.astimezone(UTC).timestamp() + seconds


@dataclass(slots=True)
class SignedUrls:
    """The proxy's signed-URL authenticator: `users` and `keys` (user id -> key or None)."""

    users: UserStore
    keys: Callable[[str], Any]                 # async (user_id) -> str | None
    methods: tuple[str, ...] = ("GET",)        # PROXY_PRESIGNEDURL_ALLOWED_METHODS
    schemes: tuple[str, ...] = ("https",)      # oCIS signs https://<Host>; also OCIS_URL's scheme
    now: Callable[[], float] = lambda: datetime.now(UTC).timestamp()
    throttle: Throttle = field(
        default_factory=lambda: Throttle(20, 60.0, address_max_failures=50))
    max_running: int = 2                       # PBKDF2 computations at once
    max_waiting: int = 32                      # checks queued behind them; more: 429
    _running: int = 0
    _slots: asyncio.Semaphore | None = None
    _memo: OrderedDict[tuple[str, str], str] = field(default_factory=OrderedDict)

    async def user(self, method: str, host: str, raw_path: str,
                   query: Sequence[tuple[str, str]], address: str = "") -> User:
        """The user a valid signed URL stands for; Unauthenticated otherwise, TooManyRequests
        for a client that failed too often or while too many checks are under way."""
        credential = next((v for k, v in query if k == CREDENTIAL), "").lower()
        keys = (f"signed:{credential}|{address}", address_key(address))
        self.throttle.check(*keys)
        try:
            return await self._check(method, host, raw_path, query)
        except Unauthenticated as exc:
            self.throttle.failure(*keys, source="signed-url")
            log.info("signed URL refused for %s %s: %s", method, raw_path, exc.message)
            raise Unauthenticated("invalid or expired signed URL") from None

    async def _signature(self, url: str, key: str) -> str:
        """`signature(url, key)`, remembered once verified; computed off the event loop, at
        most `max_running` at once."""
        known = self._memo.get((url, key))
        if known is not None:
            self._memo.move_to_end((url, key))
            return known
        if self._running >= self.max_running + self.max_waiting:
            raise TooManyRequests("too many signed URLs being checked, try again", retry_after=1)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_running)
        self._running += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(signature, url, key)
        finally:
            self._running -= 1

    def _remember(self, url: str, key: str, digest: str) -> None:
        self._memo[(url, key)] = digest
        if len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)

    async def _check(self, method: str, host: str, raw_path: str,
                     query: Sequence[tuple[str, str]]) -> User:
        params: dict[str, str] = {}
        for key, value in query:
            params.setdefault(key, value)
        missing = [p for p in REQUIRED if not params.get(p)]
        if missing:
            raise Unauthenticated(f"required {missing[0]} parameter not found")
        if params.get(ALGO, ALGORITHM) != ALGORITHM:
            raise Unauthenticated(f"unsupported {ALGO}")
        if params[VERB].upper() != method.upper():
            raise Unauthenticated("OC-Verb does not match the request method")
        if method.upper() not in {m.upper() for m in self.methods}:
            raise Unauthenticated("the request method is not allowed for signed URLs")
        try:
            until = _valid_until(params[DATE], params[EXPIRES])
        except (ValueError, OverflowError):
            raise Unauthenticated("unreadable OC-Date or OC-Expires") from None
        if not self.now() < until:
            raise Unauthenticated("the URL has expired")
        try:
            user = await self.users.get_by_name(params[CREDENTIAL])
        except NotFound:
            raise Unauthenticated("unknown OC-Credential") from None
        if not user.enabled:
            raise Unauthenticated("account disabled")
        key = await self.keys(user.id)
        if not key:
            raise Unauthenticated("the user has no signing key")
        given = params[SIGNATURE].lower()
        for url in self._candidates(host, raw_path, query):
            digest = await self._signature(url, key)
            if hmac.compare_digest(digest, given):
                self._remember(url, key, digest)
                return user
        raise Unauthenticated("signature mismatch")

    def _candidates(self, host: str, raw_path: str,
                    query: Sequence[tuple[str, str]]) -> list[str]:
        out: list[str] = []
        for scheme in dict.fromkeys(self.schemes):
            url = string_to_sign(scheme, host, raw_path, query)
            # oCIS's workaround (ocis#10180): a reverse proxy may have turned `$` into `%24`
            for variant in (url, url.replace("$", "%24", 1)):
                if variant not in out:
                    out.append(variant)
        return out
