"""The replay lane (ocis_server/runtime/replay.py): a repeated small GET or Depth 0 PROPFIND is
answered again from memory by the listener. Real server, raw sockets: the replayed answer is
byte-identical to the recorded one except the Date value; what may not be replayed never is;
every change (file, password, account, throttle lock, membership, the time) is seen at once;
pipelined requests keep their order. The proxy's debug listener counts the replays (/replay)."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from ocis_server.domain import roles
from ocis_server.runtime.replay import REPLAY_TTL
from tests.conftest import RealServer, free_port, launch_real_server

ADMIN = ("admin", "admin")
EINSTEIN = ("einstein", "relativity")
DATE = re.compile(rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")
ALLPROP = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>')
PROP = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
        b"<d:prop><d:getetag/><d:getcontentlength/><oc:fileid/><oc:permissions/></d:prop>"
        b"</d:propfind>")
DAVPROP = (b'<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:"><d:prop>'
           b"<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/>"
           b"<d:getcontenttype/></d:prop></d:propfind>")
PROPNAME = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>'


def basic(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def request(method: str, path: str, user: tuple[str, str] | None = ADMIN, body: bytes = b"",
            host: str = "localhost", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if user is not None:
        lines.append(f"Authorization: {basic(user)}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if body or method in ("PUT", "PROPFIND"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """One keep-alive connection; answers read exactly (head, then Content-Length bytes)."""

    def __init__(self, server: RealServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, head_only: bool = False) -> bytes:
        while b"\r\n\r\n" not in self.buf:
            self._more()
        end = self.buf.index(b"\r\n\r\n") + 4
        head = self.buf[:end]
        match = re.search(rb"\r\nContent-Length: (\d+)\r\n", head, re.IGNORECASE)
        size = 0 if head_only or match is None else int(match.group(1))
        while len(self.buf) < end + size:
            self._more()
        raw, self.buf = self.buf[:end + size], self.buf[end + size:]
        return raw

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def call(self, data: bytes, head_only: bool = False) -> bytes:
        self.send(data)
        return self.answer(head_only)

    def close(self) -> None:
        self.sock.close()


def status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def body(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def undated(raw: bytes) -> bytes:
    assert len(DATE.findall(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n")) == 1, raw[:400]
    return DATE.sub(b"\r\nDate: -\r\n", raw, count=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    debug = f"127.0.0.1:{free_port()}"
    env = {"PROXY_DEBUG_ADDR": debug, "PROXY_LOGIN_MAX_FAILURES": "3",
           "PROXY_LOGIN_FAILURE_DELAY": "0"}
    with launch_real_server(tmp_path_factory.mktemp("replay"), env) as srv:
        yield srv


def stats(server: RealServer) -> dict[str, int]:
    url = f"http://{server.env['PROXY_DEBUG_ADDR']}/replay"
    with urllib.request.urlopen(url, timeout=10) as resp:
        answer: dict[str, int] = json.loads(resp.read())
    return answer


@pytest.fixture
def conn(server: RealServer) -> Iterator[Conn]:
    c = Conn(server)
    yield c
    c.close()


def graph(conn: Conn, method: str, path: str, user: tuple[str, str] = ADMIN,
          payload: object = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(payload).encode() if payload is not None else b""
    raw = conn.call(request(method, path, user, data, Content_Type="application/json")
                    if data else request(method, path, user))
    text = body(raw)
    return status(raw), (json.loads(text) if text.strip() else {})


def put(conn: Conn, path: str, data: bytes, user: tuple[str, str] = ADMIN) -> None:
    assert status(conn.call(request("PUT", path, user, data))) in (201, 204)


def replayed(server: RealServer) -> int:
    return stats(server)["replayed"]


def twice(server: RealServer, conn: Conn, data: bytes) -> tuple[bytes, bytes]:
    """Send `data` twice: the first answer may be recorded, the second must be replayed."""
    first = conn.call(data)
    before = replayed(server)
    second = conn.call(data)
    assert replayed(server) == before + 1, (data[:200], stats(server))
    return first, second


def test_replayed_answers_are_the_recorded_bytes(server: RealServer, conn: Conn) -> None:
    name = quote("Grüße ünï.txt")
    put(conn, "/remote.php/webdav/small.txt", b"small file\n")
    put(conn, "/remote.php/webdav/empty.txt", b"")
    put(conn, f"/remote.php/webdav/{name}", b"non-ascii name")
    status_, me = graph(conn, "GET", "/graph/v1.0/me/drive")
    assert status_ == 200
    personal = quote(str(me["id"]), safe="")
    status_, drive = graph(conn, "POST", "/graph/v1.0/drives", payload={"name": "Replay"})
    assert status_ == 201, drive
    project = quote(str(drive["id"]), safe="")
    put(conn, f"/dav/spaces/{project}/p.txt", b"project file")
    paths = ["/remote.php/webdav/small.txt", "/remote.php/dav/files/admin/small.txt",
             f"/dav/spaces/{personal}/small.txt", "/remote.php/webdav/empty.txt",
             f"/remote.php/webdav/{name}", f"/dav/spaces/{project}/p.txt"]
    corpus = [request("GET", p) for p in paths]
    corpus.append(request("GET", paths[0], Accept="*/*", User_Agent="Mozilla/5.0 (Linux) "
                          "mirall/5.3.2", X_Request_ID="one"))
    for path in paths[:3] + [f"/dav/spaces/{project}/p.txt", f"/dav/spaces/{project}/",
                             "/remote.php/webdav/" + name]:
        corpus += [request("PROPFIND", path, body=PROP, Depth="0"),
                   request("PROPFIND", path, body=PROP, Depth="0",
                           Content_Type="application/xml; charset=utf-8"),
                   request("PROPFIND", path, body=DAVPROP, Depth="0"),
                   request("PROPFIND", path, body=PROP, Depth="0", Prefer="return=minimal")]
    for data in corpus:
        first, second = twice(server, conn, data)
        assert status(first) in (200, 207), first[:300]
        assert undated(second) == undated(first)
    # allprop and propname (with no body too) include locks and share types, whose expiry
    # makes the answer depend on the time: rendered each time (as PollCache does)
    for data in (request("PROPFIND", paths[0], body=ALLPROP, Depth="0"),
                 request("PROPFIND", paths[0], body=PROPNAME, Depth="0"),
                 request("PROPFIND", paths[0], body=b"", Depth="0")):
        before = replayed(server)
        first, second = conn.call(data), conn.call(data)
        assert status(first) == status(second) == 207
        assert replayed(server) == before
    # a fresh X-Request-ID (ownCloud clients send one per request) is not part of the key
    before = replayed(server)
    again = conn.call(request("GET", paths[0], Accept="*/*", User_Agent="Mozilla/5.0 (Linux) "
                              "mirall/5.3.2", X_Request_ID="two"))
    assert replayed(server) == before + 1 and body(again) == b"small file\n"


def test_ineligible_requests_are_never_replayed(server: RealServer, conn: Conn) -> None:
    path = "/remote.php/webdav/never.txt"
    put(conn, path, b"0123456789")
    etag = re.search(rb"\r\nETag: (\"[^\"]+\")", conn.call(request("GET", path)), re.I)
    assert etag is not None
    cases = [request("GET", path, Range="bytes=0-3"),
             request("GET", path, If_None_Match=etag.group(1).decode()),
             request("GET", path + "?x=1"),
             request("GET", path, user=None, Authorization="Bearer not-a-token"),
             request("GET", path, Origin="https://example.org"),
             request("GET", path, Cookie="a=b"),
             request("GET", path, X_Forwarded_For="10.1.2.3"),
             request("PROPFIND", path, body=ALLPROP, Depth="1")]
    for data in cases:
        before = replayed(server)
        first, second = conn.call(data), conn.call(data)
        assert replayed(server) == before, data[:120]
        assert status(first) == status(second)
    before = replayed(server)
    for _ in range(2):
        closing = Conn(server)
        assert body(closing.call(request("GET", path, Connection="close"))) == b"0123456789"
        closing.close()
    assert replayed(server) == before
    before = replayed(server)
    for _ in range(2):
        assert status(conn.call(request("HEAD", path), head_only=True)) == 200
    assert replayed(server) == before


def test_changes_are_seen_at_once(server: RealServer, conn: Conn) -> None:
    path = "/remote.php/webdav/change.txt"
    put(conn, path, b"one")
    twice(server, conn, request("GET", path))
    put(conn, path, b"two")
    first, second = twice(server, conn, request("GET", path))
    assert body(first) == body(second) == b"two"
    moved = request("MOVE", path, Destination=f"http://localhost/remote.php/webdav/moved.txt")
    assert status(conn.call(moved)) == 201
    assert status(conn.call(request("GET", path))) == 404
    assert body(conn.call(request("GET", "/remote.php/webdav/moved.txt"))) == b"two"
    twice(server, conn, request("GET", "/remote.php/webdav/moved.txt"))
    assert status(conn.call(request("DELETE", "/remote.php/webdav/moved.txt"))) == 204
    assert status(conn.call(request("GET", "/remote.php/webdav/moved.txt"))) == 404
    assert status(conn.call(request("MKCOL", "/remote.php/webdav/polled"))) == 201
    poll = request("PROPFIND", "/remote.php/webdav/polled/", body=PROP, Depth="0")
    put(conn, "/remote.php/webdav/polled/change.txt", b"x")
    old = body(twice(server, conn, poll)[1])
    put(conn, "/remote.php/webdav/polled/change.txt", b"xy")
    assert body(conn.call(poll)) != old          # the folder's etag moved


def _new_user(conn: Conn, name: str, password: str) -> str:
    status_, user = graph(conn, "POST", "/graph/v1.0/users", payload={
        "onPremisesSamAccountName": name, "displayName": name, "mail": f"{name}@example.org",
        "passwordProfile": {"password": password}})
    assert status_ in (200, 201), user
    return str(user["id"])


def test_account_changes_end_replays(server: RealServer, conn: Conn) -> None:
    wanda = ("wanda", "first-pass-1")
    wid = _new_user(conn, *wanda)
    path = "/remote.php/dav/files/wanda/w.txt"
    put(conn, path, b"wanda's", wanda)
    twice(server, conn, request("GET", path, wanda))
    status_, _ = graph(conn, "POST", "/graph/v1.0/me/changePassword", wanda,
                       {"currentPassword": "first-pass-1", "newPassword": "second-pass-2"})
    assert status_ == 204
    assert status(conn.call(request("GET", path, wanda))) == 401
    wanda = ("wanda", "second-pass-2")
    twice(server, conn, request("GET", path, wanda))
    assert graph(conn, "PATCH", f"/graph/v1.0/users/{wid}", payload={"accountEnabled": False})[0] == 200
    assert status(conn.call(request("GET", path, wanda))) == 401
    assert graph(conn, "PATCH", f"/graph/v1.0/users/{wid}", payload={"accountEnabled": True})[0] == 200
    twice(server, conn, request("GET", path, wanda))
    assert graph(conn, "DELETE", f"/graph/v1.0/users/{wid}")[0] == 204
    assert status(conn.call(request("GET", path, wanda))) == 401


def test_a_locked_pair_gets_429(server: RealServer, conn: Conn) -> None:
    victor = ("victor", "victor-pass-1")
    _new_user(conn, *victor)
    path = "/remote.php/dav/files/victor/v.txt"
    put(conn, path, b"v", victor)
    twice(server, conn, request("GET", path, victor))
    for _ in range(3):                                  # PROXY_LOGIN_MAX_FAILURES
        assert status(conn.call(request("GET", path, ("victor", "wrong")))) == 401
    before = replayed(server)
    assert status(conn.call(request("GET", path, victor))) == 429
    assert replayed(server) == before


def test_a_removed_member_is_refused(server: RealServer, conn: Conn) -> None:
    status_, drive = graph(conn, "POST", "/graph/v1.0/drives", payload={"name": "Members"})
    assert status_ == 201
    space = str(drive["id"])
    status_, me = graph(conn, "GET", "/graph/v1.0/me", EINSTEIN)
    assert status_ == 200
    invite = {"recipients": [{"objectId": me["id"], "@libre.graph.recipient.type": "user"}],
              "roles": [roles.SPACE_VIEWER.id]}
    assert graph(conn, "POST", f"/graph/v1beta1/drives/{space}/root/invite", payload=invite)[0] == 200
    path = f"/dav/spaces/{quote(space, safe='')}/m.txt"
    put(conn, path, b"members only")
    twice(server, conn, request("GET", path, EINSTEIN))
    poll = request("PROPFIND", f"/dav/spaces/{quote(space, safe='')}/", EINSTEIN, PROP, Depth="0")
    twice(server, conn, poll)
    removed = graph(conn, "DELETE", f"/graph/v1beta1/drives/{space}/root/permissions/u:{me['id']}")
    assert removed[0] == 204, removed
    assert status(conn.call(request("GET", path, EINSTEIN))) == 404
    assert status(conn.call(poll)) == 404


def test_pipelined_requests_are_answered_in_order(server: RealServer, conn: Conn) -> None:
    a, b = "/remote.php/webdav/pipe-a.txt", "/remote.php/webdav/pipe-b.txt"
    put(conn, a, b"AAAA")
    put(conn, b, b"BB")
    twice(server, conn, request("GET", a))
    twice(server, conn, request("GET", b))
    before = replayed(server)
    conn.send(request("GET", a) + request("GET", b))
    assert body(conn.answer()) == b"AAAA" and body(conn.answer()) == b"BB"
    assert replayed(server) == before + 2
    conn.send(request("GET", a) + request("PUT", a, body=b"new A") + request("GET", a))
    assert body(conn.answer()) == b"AAAA"
    assert status(conn.answer()) == 204
    assert body(conn.answer()) == b"new A"
    twice(server, conn, request("GET", a))
    second = request("GET", b)
    conn.send(request("GET", a) + second[:20])
    assert body(conn.answer()) == b"new A"
    time.sleep(0.2)
    conn.send(second[20:])
    assert body(conn.answer()) == b"BB"


def test_an_entry_expires(server: RealServer, conn: Conn) -> None:
    path = "/remote.php/webdav/ttl.txt"
    put(conn, path, b"ttl")
    twice(server, conn, request("GET", path))
    time.sleep(REPLAY_TTL + 0.5)
    before = stats(server)
    assert body(conn.call(request("GET", path))) == b"ttl"
    after = stats(server)
    assert after["replayed"] == before["replayed"] and after["stale"] == before["stale"] + 1
    twice(server, conn, request("GET", path))          # recorded again


def test_memory_stays_bounded(server: RealServer, conn: Conn) -> None:
    """Each answer costs its head and key (bodies are shared with the storage's caches)."""
    got = stats(server)
    assert 0 < got["entries"] <= 2048 and got["bytes"] <= 2 * 1024 * 1024
    assert got["bytes"] <= got["entries"] * 2048


# --- two workers ----------------------------------------------------------------------------

def _pinned(server: RealServer, index: int) -> Conn:
    end = time.monotonic() + 60          # the second worker may still be starting
    while time.monotonic() < end:
        conn = Conn(server)
        try:
            raw = conn.call(request("GET", "/status.php", None))
            if f"X-Ocis-Worker: {index}\r\n".encode() in raw:
                return conn
        except OSError:
            pass
        conn.close()
        time.sleep(0.02)
    pytest.fail(f"no connection reached worker {index}")


def _worker_stats(server: RealServer) -> dict[int, str]:
    """Each worker's proxy debug listener (PROXY_DEBUG_ADDR port 0: one per worker, logged)."""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        found = re.findall(r"worker (\d+): proxy debug listening on (http://[\d.:]+)",
                           server.log_tail(100_000))
        if len(found) == 2:
            return {int(index): url for index, url in found}
        time.sleep(0.1)
    pytest.fail(f"the workers' debug listeners are not in the log:\n{server.log_tail()}")


def _replayed_by(url: str) -> int:
    with urllib.request.urlopen(f"{url}/replay", timeout=10) as resp:
        return int(json.loads(resp.read())["replayed"])


def test_two_workers_see_each_others_writes(tmp_path: Path) -> None:
    env = {"OCIS_WORKERS": "2", "OCIS_WORKERS_DEBUG": "true", "PROXY_DEBUG_ADDR": "127.0.0.1:0"}
    with launch_real_server(tmp_path / "workers", env) as server:
        w0, w1 = _pinned(server, 0), _pinned(server, 1)
        debug = _worker_stats(server)
        path = "/remote.php/webdav/w.txt"
        put(w0, path, b"from worker 0")
        assert status(w0.call(request("MKCOL", "/remote.php/webdav/f"))) == 201
        poll = request("PROPFIND", "/remote.php/webdav/f/", body=PROP, Depth="0")
        before = _replayed_by(debug[1])
        for _ in range(3):                       # recorded, then answered from memory
            assert body(w1.call(request("GET", path))) == b"from worker 0"
            first = w1.call(poll)
        assert _replayed_by(debug[1]) == before + 4
        put(w0, path, b"worker 0 again")
        put(w0, "/remote.php/webdav/f/new.txt", b"new")
        assert body(w1.call(request("GET", path))) == b"worker 0 again"
        assert body(w1.call(poll)) != body(first)
        assert _replayed_by(debug[1]) == before + 4    # the other worker's commit: no replay
        for _ in range(2):
            assert body(w1.call(request("GET", path))) == b"worker 0 again"
        assert _replayed_by(debug[1]) == before + 6       # recorded again at the first GET
        put(w1, path, b"worker 1")
        assert body(w0.call(request("GET", path))) == b"worker 1"
        w0.close()
        w1.close()

def test_the_framer_follows_every_split() -> None:
    """Request boundaries are found wherever the reads split the bytes; what it cannot follow
    (chunked, Expect, bare LF) turns the lane off for the connection."""
    from ocis_server.runtime.replay import Framer

    stream = [request("GET", "/a.txt"), request("PUT", "/b.txt", body=b"x" * 300),
              request("PROPFIND", "/c/", body=PROP, Depth="0"),
              request("GET", "/d.txt", Range="bytes=0-1")]
    data = b"".join(stream)
    ends = [sum(map(len, stream[:i + 1])) for i in range(len(stream))]
    eligible = [True, False, True, False]
    for cut in range(1, len(data)):
        framer, seen = Framer(), []
        for offset, part in ((0, data[:cut]), (cut, data[cut:])):
            seen += [(offset + end, key is not None) for end, key in framer.feed(part)]
        assert framer.at_boundary
        heads = [end for end, _ in seen]
        # a request whose body goes on is reported at the end of that read, keyless
        assert all(end in ends or end == cut for end in heads) and len(seen) == len(stream)
        for (end, keyed), want_end, want in zip(seen, ends, eligible, strict=True):
            assert keyed == (want and end == want_end)
    from ocis_server.runtime.replay import Known

    known, poll = Known(), stream[2]
    first = Framer(known).feed(poll)
    assert first[0][1] is not None and list(known.keys) == [poll]
    framer = Framer(known)
    assert framer.feed(poll) == first and framer.at_boundary      # not parsed again
    assert framer.feed(poll[:-1] + b"X")[0][1] != first[0][1]     # other bytes: parsed
    after_body = Framer(known)                     # the end of a body, then a request
    after_body.feed(request("PUT", "/b.txt", body=b"y" * 10)[:-4])
    assert after_body.feed(b"yyyy" + stream[0])[-1][1] is not None
    assert b"yyyy" + stream[0] not in known.keys
    half = Framer(known)
    half.feed(poll[:10])
    assert half.feed(poll) == [] and not half.at_boundary           # mid-request: no shortcut
    for odd in (b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
                b"GET /x HTTP/1.1\nHost: a\r\n\r\n", b"GET /x HTTP/1.1\r\n Host: a\r\n\r\n"):
        framer = Framer()
        framer.feed(request("GET", "/a.txt") + odd)
        assert framer.lost and not framer.at_boundary


def test_chunked_and_expect_requests_keep_their_order(server: RealServer, conn: Conn) -> None:
    path = "/remote.php/webdav/chunked.txt"
    put(conn, path, b"before")
    twice(server, conn, request("GET", path))
    chunked = (f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {basic(ADMIN)}\r\n"
               "Transfer-Encoding: chunked\r\n\r\n5\r\nafter\r\n0\r\n\r\n").encode()
    conn.send(request("GET", path) + chunked + request("GET", path))
    assert body(conn.answer()) == b"before"
    assert status(conn.answer()) == 204
    assert body(conn.answer()) == b"after"
    before = replayed(server)
    assert body(conn.call(request("GET", path))) == b"after"
    assert replayed(server) == before          # the lane stays off on this connection


def test_validity_rules_of_an_entry() -> None:
    """Memo.answer's rules one by one, on a stand-in storage and user store: the change stamp,
    the user store's generation, the TTL, the throttle's trust and lock; and an answer whose
    state moved while its handler ran is not kept (stale at birth)."""
    from types import SimpleNamespace

    from ocis_server.auth.logins import LoginThrottle
    from ocis_server.runtime.replay import Entry, Memo, Snapshot

    storage = SimpleNamespace(change_stamp=(1, 0, 0))
    users = SimpleNamespace(generation=7)
    throttle = LoginThrottle(max_failures=2, delay=0)
    memo = Memo(SimpleNamespace(storage=storage, users=users, throttle=throttle))  # type: ignore[arg-type]
    key = (b"GET", b"/a", ((b"authorization", b"Basic eDp5"),), b"")
    account, address = "user:x", "addr:10.0.0.1"

    def keep(born: float) -> Snapshot:
        before = memo.snapshot(born)
        assert before is not None and memo._still(before)
        memo._keep(key, Entry(b"HTTP/1.1 200 OK\r\nDate: ", b"\r\n\r\n", b"body", account,
                              before.users, born, 100))
        return before

    keep(100.0)
    assert memo.answer(key, address, 101.0) is None          # the pair never signed in here
    throttle.success(account, address, source="basic")
    answer = memo.answer(key, address, 101.0)
    assert answer is not None and answer.startswith(b"HTTP/1.1 200 OK\r\nDate: ")
    assert answer.endswith(b" GMT\r\n\r\nbody")
    assert memo.answer(key, address, 100.0 + REPLAY_TTL) is None            # too old
    users.generation = 8                                                    # a user changed
    assert memo.answer(key, address, 101.0) is None
    keep(200.0)
    assert memo.answer(key, address, 201.0) is not None
    storage.change_stamp = (2, 0, 0)                                        # a commit
    assert memo.answer(key, address, 201.0) is None and not memo.entries    # dropped wholesale
    keep(300.0)
    for _ in range(2):
        throttle.failure(account, address, source="basic")                  # the pair locks
    assert memo.answer(key, address, 301.0) is None
    before = memo.snapshot(400.0)
    assert before is not None
    storage.change_stamp = (3, 0, 0)                                        # while the handler ran
    assert not memo._still(before)
    users.generation = 9
    assert not memo._still(Snapshot((3, 0, 0), (id(users), 8), 400.0))
    no_count = Memo(SimpleNamespace(storage=storage, users=SimpleNamespace(), throttle=throttle))  # type: ignore[arg-type]
    assert no_count.snapshot(1.0) is None          # a store without a generation: never recorded


def test_the_memo_is_bounded() -> None:
    from types import SimpleNamespace

    from ocis_server.runtime.replay import MAX_BODY_BYTES, MAX_ENTRIES, MAX_OWN_BYTES, Entry, Memo

    memo = Memo(SimpleNamespace(storage=None, users=None, throttle=None))  # type: ignore[arg-type]

    def entry(size: int, body: bytes = b"") -> Entry:
        return Entry(b"", b"", body, "user:x", (0, 0), 0.0, size)

    for i in range(MAX_ENTRIES + 10):
        memo._keep((b"GET", str(i).encode(), (), b""), entry(300))
    assert len(memo.entries) == MAX_ENTRIES and (b"GET", b"0", (), b"") not in memo.entries
    memo._clear(None)
    for i in range(5):
        memo._keep((b"GET", str(i).encode(), (), b""), entry(MAX_OWN_BYTES // 2))
    assert len(memo.entries) == 2 and memo.own_bytes <= MAX_OWN_BYTES
    memo._clear(None)
    big = b"x" * (MAX_BODY_BYTES // 3)
    for i in range(5):
        memo._keep((b"GET", str(i).encode(), (), b""), entry(100, big))
    assert len(memo.entries) == 3 and memo.body_bytes <= MAX_BODY_BYTES
