"""The replay lane: a repeated small answer (a small whole-file GET, a Depth 0 PROPFIND poll)
written again from memory by the listener, without aiohttp's per-request machinery or our
layers (docs/decisions/0020-replay-lane.md).

Record (slow path): `recorder()` is the root app's outermost middleware. For a request the
listener's `Framer` found eligible (`frame`: HTTP/1.1, GET or PROPFIND Depth 0, no query, HTTP
Basic, only allow-listed headers) it notes what the answer's validity depends on BEFORE the
handler runs (`Snapshot`: the storage's change stamp, the user store's generation, the time),
and when the handler marked its answer replayable (services.context.REPLAY_MARK: the access
does not depend on the time) and the caller signed in with a password, it sends the
`web.Response` itself and keeps the status line and headers exactly as aiohttp serialized them,
Date cut out, with the body bytes (the same object the small-blob cache or PollCache holds).

Replay (fast path, `GuardedRequestHandler.data_received`): only while aiohttp waits for the
next request on the connection, complete eligible requests at the start of the received bytes
are answered with one write each when `Memo.answer` finds a valid entry; the first other one
and everything after it go to aiohttp. Valid means: the workers' freshness check ran first;
the storage's change stamp and the user store's generation are those of the recording; the
entry is younger than REPLAY_TTL; the login throttle trusts the (account, address) pair and
neither is locked (then counted as a success, as the slow path does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http_writer import _serialize_headers

from ocis_server.auth.basic import parse_basic
from ocis_server.auth.throttle import address_key
from ocis_server.domain.errors import OcisError
from ocis_server.services.context import REPLAY_MARK, ReplayMark, ServiceContext

log = logging.getLogger("ocis.proxy")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Key = tuple[bytes, bytes, tuple[tuple[bytes, bytes], ...], bytes]

# Shorter than every credential cache (identity/builtin.py 60 s, ldap.py 30 s): an entry never
# outlives what the slow path itself would have taken from memory.
REPLAY_TTL = 10.0
MAX_ENTRIES = 2048                   # answers kept ...
MAX_OWN_BYTES = 2 * 1024 * 1024      # ... their heads and keys at most this much ...
MAX_BODY_BYTES = 8 * 1024 * 1024     # ... and their bodies (shared with the storage's caches)
MAX_KEYED_BODY = 4096                # a PROPFIND body longer than this is not replayed
MAX_HEAD = 16 * 1024                 # a request head split over reads is followed up to this
THROTTLE_SOURCE = "basic"            # auth/principal.py: the Basic password path

# Headers whose values go into the key verbatim; any other header means the slow path.
KEYED = frozenset({b"host", b"authorization", b"accept", b"accept-encoding", b"user-agent",
                   b"depth", b"content-type", b"content-length", b"prefer", b"connection",
                   b"accept-language", b"cache-control", b"pragma"})
# Headers no ocdav answer echoes, logs or reads (a fresh value per request from ownCloud
# clients): left out of the key.
UNKEYED = frozenset({b"x-request-id", b"traceparent"})


class Lost(Exception):
    """Bytes the framer cannot follow: the connection stays on aiohttp's path from here on."""


def _eligible(method: bytes, target: bytes, version: bytes, headers: list[tuple[bytes, bytes]],
              body: bytes | None) -> bool:
    if version != b"HTTP/1.1" or not target.startswith(b"/") or body is None:
        return False
    if b"?" in target or b"#" in target or not target.isascii() or b"\\" in target:
        return False
    fields = dict(headers)
    if len(fields) != len(headers) or not fields.get(b"authorization", b"").startswith(b"Basic "):
        return False
    connection = fields.get(b"connection")
    if connection is not None and connection.lower() != b"keep-alive":
        return False
    if method == b"GET":
        return not body
    return (method == b"PROPFIND" and fields.get(b"depth") == b"0"
            and len(body) <= MAX_KEYED_BODY)


def frame(buf: bytes, pos: int) -> tuple[int, int, Key | None] | None:
    """The request starting at `pos`: (end of its head, its body length, its key or None when it
    is not eligible); None while its head is incomplete. Lost for anything unusual (chunked,
    upgrade, bare CR or LF, folded or malformed lines): aiohttp decides those alone."""
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        if len(buf) - pos > MAX_HEAD:
            raise Lost("request head too long")
        return None
    head = buf[pos:end]
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf or b"\0" in head:
        raise Lost("bare CR or LF")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[0].isupper() or \
            parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise Lost("unusual request line")
    method, target, version = parts
    length = -1
    keyed: list[tuple[bytes, bytes]] = []
    eligible = True
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1:] in (b" ", b"\t") or name[:1] in (b" ", b"\t"):
            raise Lost("malformed header line")
        lname = name.lower()
        value = value.strip(b" \t")
        if lname == b"content-length":
            if length >= 0 or not value.isdigit() or len(value) > 15:
                raise Lost("unusual Content-Length")
            length = int(value)
        elif lname in (b"transfer-encoding", b"upgrade", b"expect"):
            # chunked bodies are not followed; an upgrade, or an expectation aiohttp refuses,
            # would not pass the recorder (the keys would no longer match the requests)
            raise Lost("chunked, upgrade or Expect")
        if lname in KEYED:
            keyed.append((lname, value))
        elif lname not in UNKEYED:
            eligible = False
    length = max(length, 0)
    start = end + 4
    key: Key | None = None
    if eligible and method in (b"GET", b"PROPFIND"):
        body = buf[start:start + length] if start + length <= len(buf) else None
        if _eligible(method, target, version, keyed, body):
            assert body is not None
            key = (method, target, tuple(keyed), body)
    return start, length, key


class Known:
    """Reads that were exactly one complete eligible request, and its key: framing is a
    function of the bytes alone, and a client repeats its requests byte for byte, so a repeated
    read is not parsed again (shared by the connections of a process; bounded)."""

    __slots__ = ("keys", "size")
    LIMIT = 1024 * 1024          # bytes of reads kept, then all are dropped

    def __init__(self) -> None:
        self.keys: dict[bytes, Key] = {}
        self.size = 0

    def add(self, data: bytes, key: Key) -> None:
        if self.size + len(data) > self.LIMIT:
            self.keys, self.size = {}, 0
        self.keys[data] = key
        self.size += len(data)


class Framer:
    """Follows the request boundaries of one connection's bytes (what aiohttp's parser will
    see), so that the listener knows when the next bytes start a new request."""

    __slots__ = ("body_left", "head", "known", "lost")

    def __init__(self, known: Known | None = None) -> None:
        self.head = b""          # the start of a request whose head is not complete
        self.body_left = 0       # body bytes of the last request still to come
        self.lost = False
        self.known = known

    @property
    def at_boundary(self) -> bool:
        return not self.lost and not self.head and not self.body_left

    def feed(self, data: bytes) -> list[tuple[int, Key | None]]:
        """The requests whose head completes in `data`: (offset in `data` where the request
        ends, or len(data) when its body goes on; its key when it is complete and eligible)."""
        found: list[tuple[int, Key | None]] = []
        if self.lost or not data:
            return found
        known = self.known
        if known is not None and not self.head and not self.body_left:
            key = known.keys.get(data)
            if key is not None:
                return [(len(data), key)]
        pos = min(self.body_left, len(data))
        self.body_left -= pos
        if self.body_left:
            return found
        whole = pos == 0 and not self.head     # `data` starts with a request of its own
        buf, shift = data, 0
        if self.head:
            buf, shift = self.head + data[pos:], pos - len(self.head)
            self.head, pos = b"", 0
        try:
            while pos < len(buf):
                framed = frame(buf, pos)
                if framed is None:
                    self.head = buf[pos:]
                    break
                start, length, key = framed
                if start + length > len(buf):
                    self.body_left = start + length - len(buf)
                    found.append((len(data), None))
                    break
                pos = start + length
                found.append((pos + shift, key))
        except Lost as exc:
            log.debug("replay lane off for a connection: %s", exc)
            self.lost, self.head, self.body_left = True, b"", 0
        if (known is not None and whole and len(found) == 1 and found[0][0] == len(data)
                and not self.head and not self.body_left and not self.lost):
            key = found[0][1]
            if key is not None and len(data) <= MAX_HEAD:
                known.add(data, key)
        return found


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What an answer's validity depends on, taken before its handler ran."""

    stamp: object
    users: tuple[int, int]
    born: float


@dataclass(frozen=True, slots=True)
class Entry:
    pre: bytes          # status line and headers up to the Date value
    post: bytes         # the rest of the head after it
    body: bytes
    account: str        # the throttle's account of the Basic user (user:<name>)
    users: tuple[int, int]
    born: float
    size: int           # what it costs beyond the body


def users_generation(store: Any) -> tuple[int, int] | None:
    """(which store, its generation): moves on every change of a user, password, group or
    membership and whenever its caches are dropped; None for a store that keeps no such count
    (LDAP, PostgreSQL, a user store in another process): then nothing is replayed."""
    inner = store
    for _ in range(4):
        nested = getattr(inner, "inner", None)
        if nested is None or nested is inner:
            break
        inner = nested
    generation = getattr(inner, "generation", None)
    return (id(inner), generation) if isinstance(generation, int) else None


class Memo:
    """The answers the listener may write again, for one process's proxy."""

    def __init__(self, ctx: ServiceContext, fresh: Callable[[], None] | None = None,
                 ttl: float = REPLAY_TTL) -> None:
        self.ctx, self.fresh, self.ttl = ctx, fresh, ttl
        self.entries: dict[Key, Entry] = {}
        self.known = Known()             # reads already framed (the connections' Framers)
        self.stamp: object = None
        self.own_bytes = self.body_bytes = 0
        self.replayed = self.recorded = self.stale = 0

    def stats(self) -> dict[str, int]:
        return {"replayed": self.replayed, "recorded": self.recorded, "stale": self.stale,
                "entries": len(self.entries), "bytes": self.own_bytes,
                "body_bytes": self.body_bytes, "known_reads": len(self.known.keys),
                "known_bytes": self.known.size}

    def _clear(self, stamp: object) -> None:
        self.entries, self.stamp = {}, stamp
        self.own_bytes = self.body_bytes = 0

    # --- the slow path ---------------------------------------------------------------------
    def snapshot(self, now: float) -> Snapshot | None:
        """None when the storage or the user store is not served here (a stand-in that
        raises, another process): the request is not recorded."""
        try:
            stamp = self.ctx.storage.change_stamp
            users = users_generation(self.ctx.users)
        except Exception:          # noqa: BLE001 - the handler will answer its own error
            return None
        if users is None or not isinstance(stamp, tuple):
            return None
        return Snapshot(stamp, users, now)

    async def record(self, key: Key, before: Snapshot, request: web.Request,
                     response: web.StreamResponse) -> None:
        """Send `response` and keep it, if it is a plain small answer to a password-Basic
        caller and nothing it depends on moved while its handler ran."""
        caller = request.get("caller")
        if (not isinstance(response, web.Response) or response.prepared
                or response.status not in (200, 207) or getattr(caller, "method", "") != "basic"
                or not isinstance(response.body, bytes) or response.chunked):
            return
        body = response.body
        await response.prepare(request)
        headers = response.headers
        head = _serialize_headers(f"HTTP/1.1 {response.status} {response.reason}", headers)
        await response.write_eof()
        if (not response.keep_alive or headers.get("Content-Length") != str(len(body))
                or "Content-Encoding" in headers or "Set-Cookie" in headers
                or "Transfer-Encoding" in headers or len(headers.getall("Date", ())) != 1):
            return
        cut = b"\r\nDate: " + headers["Date"].encode() + b"\r\n"
        at = head.find(cut)
        if at < 0 or head.find(cut, at + 1) >= 0:
            return
        pre, post = head[:at + 8], head[at + len(cut) - 2:]
        if not self._still(before):
            return                       # a write or a user change while it ran: stale at birth
        try:
            account = "user:" + parse_basic(request.headers["Authorization"])[0].lower()
        except (KeyError, OcisError):
            return
        self._keep(key, Entry(pre, post, body, account, before.users, before.born,
                              len(pre) + len(post) + sum(map(len, key[2])) * 2 + len(key[1])
                              + len(key[3]) + 256))

    def _still(self, before: Snapshot) -> bool:
        stamp = self.ctx.storage.change_stamp
        if stamp != before.stamp or users_generation(self.ctx.users) != before.users:
            return False
        if stamp != self.stamp:
            self._clear(stamp)
        return True

    def _keep(self, key: Key, entry: Entry) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.own_bytes -= old.size
            self.body_bytes -= len(old.body)
        while self.entries and (len(self.entries) >= MAX_ENTRIES
                                or self.own_bytes + entry.size > MAX_OWN_BYTES
                                or self.body_bytes + len(entry.body) > MAX_BODY_BYTES):
            dropped = self.entries.pop(next(iter(self.entries)))     # the oldest
            self.own_bytes -= dropped.size
            self.body_bytes -= len(dropped.body)
        if entry.size > MAX_OWN_BYTES or len(entry.body) > MAX_BODY_BYTES:
            return
        self.entries[key] = entry
        self.own_bytes += entry.size
        self.body_bytes += len(entry.body)
        self.recorded += 1

    # --- the fast path ---------------------------------------------------------------------
    def answer(self, key: Key, address: str, now: float) -> bytes | None:
        """The bytes to write for this request, or None (the slow path answers)."""
        if not self.entries:
            return None
        if self.fresh is not None:
            self.fresh()                 # another worker's commit drops the caches (and stamp)
        entry = self.entries.get(key)
        if entry is None:
            return None
        ctx = self.ctx
        try:
            stamp, users = ctx.storage.change_stamp, users_generation(ctx.users)
        except Exception:          # noqa: BLE001 - a stand-in for a store not served here
            stamp = users = None
        if stamp is None or stamp != self.stamp:
            self._clear(None)
            return None
        if now - entry.born >= self.ttl or users != entry.users:
            self.stale += 1
            return None
        throttle = ctx.throttle
        if not throttle.admits_at_once(entry.account, address):
            return None
        throttle.success(entry.account, address, source=THROTTLE_SOURCE)
        self.replayed += 1
        return b"".join((entry.pre, rfc822_formatted_time().encode(), entry.post, entry.body))


def matches(key: Key, request: web.BaseRequest) -> bool:
    """Whether `key` was framed from `request`'s own bytes (the listener hands keys over in
    order; this checks it): method, target and every header, in order."""
    if request.method.encode() != key[0] or request.raw_path.encode() != key[1]:
        return False
    keyed = tuple((name.lower(), value) for name, value in request.raw_headers
                  if name.lower() not in UNKEYED)
    return keyed == key[2] and (request.content_length or 0) == len(key[3])


def client_key(peername: Any) -> str:
    """The throttle's address key of a connection's peer (what `client_address` answers for a
    request without forwarding headers, which are never replayed)."""
    peer = str(peername[0]) if isinstance(peername, (list, tuple)) else str(peername or "")
    return address_key(peer)


def recorder(memo: Memo) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The root app's outermost middleware: marks eligible requests and records the answers
    their handlers marked replayable."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        take = getattr(request.protocol, "replay_key", None)
        key = take(request) if take is not None else None
        if key is None:
            return await handler(request)
        before = memo.snapshot(asyncio.get_running_loop().time())
        if before is None:
            return await handler(request)
        mark = ReplayMark()
        request[REPLAY_MARK] = mark
        response = await handler(request)
        if mark.replayable:
            await memo.record(key, before, request, response)
        return response

    return record
