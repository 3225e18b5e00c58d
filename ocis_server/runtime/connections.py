"""Bounded client connections for the public listener: how many may be open at once (overall and
per client address), which one gives way when a new one needs room (the longest idle keep-alive
connection), and an accept loop that stops accepting before the descriptors kept for uploads,
SQLite and the LDAP client are eaten. Connections beyond the cap wait in the kernel's backlog,
where they cost the process no descriptor.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import resource
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("ocis.proxy")
_MIN_CAP = 8
_ACCEPT_RETRY = 1.0          # seconds before accepting again after the process ran out of something
_FULL_RECHECK = 0.25         # while full: how often to look whether a busy connection went idle
_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 41\r\nConnection: close\r\n\r\n"
            b"Too many connections from your address.\r\n")


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise RLIMIT_NOFILE's soft limit to the hard one; (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, hard
    return soft, soft


def descriptor_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def address_key(address: object) -> str:
    """A client's address as the caps count it: IPv4 as is, IPv6 by its /64 (one host or one
    site usually owns a whole /64)."""
    host = str(address[0] if isinstance(address, tuple) and address else address)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Tracked(Protocol):
    """What the gate needs of a connection: whether it is idle, since when, and how to end it."""

    def idle_since(self) -> float | None: ...      # loop time; None while a request is under way
    def evict(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Caps:
    total: int
    per_address: int           # 0: no per-address cap

    @classmethod
    def for_limit(cls, wanted: int, per_address: int, reserved: int, limit: int) -> Caps:
        """`wanted` lowered so that `reserved` descriptors stay free under `limit`."""
        room = limit - reserved
        total = max(1, min(wanted, max(_MIN_CAP, room)))
        if room < _MIN_CAP:
            log.warning("the descriptor limit %d leaves no room for connections beside the %d "
                        "reserved: allowing %d; raise `ulimit -n`", limit, reserved, total)
        per = min(per_address, total) if per_address > 0 else 0
        return cls(total, per)


def networks(items: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """PROXY_TRUSTED_PROXIES as networks; an entry that is none is ignored."""
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue
    return tuple(nets)


class ConnectionGate:
    """Counts connections from accept to close, per address, and picks who gives way.
    Addresses in `exempt` (trusted reverse proxies: every client comes through them) have no
    per-address cap."""

    def __init__(self, caps: Caps,
                 exempt: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()) -> None:
        self.caps = caps
        self._exempt = exempt
        self.total = 0
        self._by_key: dict[str, set[Tracked]] = {}
        self._pending: dict[str, int] = {}          # accepted, protocol not yet attached
        self.evicted = 0
        self.refused = 0
        self.on_release: Callable[[], None] = lambda: None

    def count(self, key: str) -> int:
        return len(self._by_key.get(key, ())) + self._pending.get(key, 0)

    def admit(self, key: str) -> None:
        self.total += 1
        self._pending[key] = self._pending.get(key, 0) + 1

    def attach(self, key: str, conn: Tracked) -> None:
        left = self._pending.get(key, 0) - 1
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)
        self._by_key.setdefault(key, set()).add(conn)

    def abandon(self, key: str) -> None:
        """An admitted connection that never got its protocol."""
        left = self._pending.get(key, 0) - 1
        if left < 0:
            return
        if left:
            self._pending[key] = left
        else:
            del self._pending[key]
        self.total -= 1
        self.on_release()

    def release(self, key: str, conn: Tracked) -> bool:
        """Give `conn`'s slot back; False when it held none (already released, or never
        attached)."""
        conns = self._by_key.get(key)
        if conns is None or conn not in conns:
            return False
        conns.discard(conn)
        if not conns:
            del self._by_key[key]
        self.total -= 1
        self.on_release()
        return True

    def exempt(self, address: object) -> bool:
        if not self._exempt:
            return False
        host = str(address[0] if isinstance(address, tuple) and address else address)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self._exempt)

    def make_room(self, key: str, *, per_address: bool = True) -> bool:
        """True when a new connection from `key` may be accepted now, after closing the longest
        idle connection (of that address when its cap is reached, else of anyone) if needed."""
        per = self.caps.per_address if per_address else 0
        if per and self.count(key) >= per:
            if not self._evict(self._by_key.get(key, set())):
                self.refused += 1
                return False
        if self.total >= self.caps.total:
            return self._evict(c for conns in self._by_key.values() for c in conns)
        return True

    def _evict(self, candidates: Iterable[Tracked]) -> bool:
        oldest: tuple[float, Tracked] | None = None
        for conn in candidates:
            since = conn.idle_since()
            if since is not None and (oldest is None or since < oldest[0]):
                oldest = (since, conn)
        if oldest is None:
            return False
        self.evicted += 1
        oldest[1].evict()               # releases its slot at once
        return True


class Acceptor:
    """Accepts on a listening socket while the gate has room; pauses (leaving new connections in
    the kernel's backlog) when it has none, and when the process runs out of descriptors."""

    def __init__(self, sock: socket.socket, gate: ConnectionGate,
                 connect: Callable[[socket.socket, str], None]) -> None:
        self.sock = sock
        self.gate = gate
        self._connect = connect
        self._loop = asyncio.get_running_loop()
        self._reading = False
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None     # after EMFILE and the like
        self._recheck: asyncio.TimerHandle | None = None   # while full of busy connections
        gate.on_release = self._resume

    @property
    def serving(self) -> bool:
        return not self._closed

    def start(self) -> None:
        self._resume()

    def _resume(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if not self._closed and not self._reading and self._retry is None:
            self._loop.add_reader(self.sock.fileno(), self._accept_ready)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.sock.fileno())
            self._reading = False

    def _accept_ready(self) -> None:
        for _ in range(64):             # a burst at a time, then let the loop run the rest
            if self.gate.total >= self.gate.caps.total and not self.gate.make_room(""):
                self._pause()           # full of busy connections: the backlog waits, and a
                if self._recheck is None:   # connection that goes idle will give way
                    self._recheck = self._loop.call_later(_FULL_RECHECK, self._resume)
                return
            try:
                conn, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("cannot accept connections for now: %s (%d open)",
                                errno.errorcode.get(exc.errno, "error"), self.gate.total)
                    self._pause()
                    self._retry = self._loop.call_later(_ACCEPT_RETRY, self._retry_now)
                    return
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue
                raise
            key = address_key(address)
            if not self.gate.make_room(key, per_address=not self.gate.exempt(address)):
                _refuse(conn)
                continue
            self.gate.admit(key)
            conn.setblocking(False)
            self._connect(conn, key)

    def _retry_now(self) -> None:
        self._retry = None
        self._resume()

    def close(self) -> None:
        self._closed = True
        self._pause()
        for timer in (self._retry, self._recheck):
            if timer is not None:
                timer.cancel()
        self._retry = self._recheck = None
        self.sock.close()


def _refuse(conn: socket.socket) -> None:
    """Over its address's cap with nothing idle to close: a short 503, then close."""
    try:
        conn.setblocking(False)
        conn.send(_REFUSAL)
    except OSError:
        pass
    finally:
        conn.close()
