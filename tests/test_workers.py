"""`ocis server` with OCIS_WORKERS=2: two real worker processes on one port (SO_REUSEPORT) over
one data folder. Every request is sent on a keep-alive connection known to be served by a given
worker (a probe on a fresh connection until its X-Ocis-Worker, sent with OCIS_WORKERS_DEBUG,
names it), so each check is deterministic: a change through one worker is seen through the
other at once (files, Depth 0 answers, locks, TUS uploads, users and passwords, app tokens), an
upload through worker 1 reaches an SSE stream held by worker 0 once, a notification is written
once, the login throttle counts both workers' failures, a worker killed with -9 is replaced
without losing an acknowledged write, and SIGTERM stops them all."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import RealServer, launch_real_server

HEADER = "X-Ocis-Worker"
ADMIN = ("admin", "admin")
EINSTEIN = ("einstein", "relativity")
MARIE = ("marie", "radioactivity")
SSE_PATH = "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"
NOTES = "/ocs/v2.php/apps/notifications/api/v1/notifications?format=json"


def _auth(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def pinned(server: RealServer, index: int, deadline: float = 60.0) -> http.client.HTTPConnection:
    """A keep-alive connection served by worker `index` (the kernel picks per connection)."""
    end = time.monotonic() + deadline
    seen: set[str | None] = set()
    while time.monotonic() < end:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("GET", "/status.php")
            resp = conn.getresponse()
            resp.read()
            seen.add(resp.getheader(HEADER))
            if resp.getheader(HEADER) == str(index):
                return conn
        except OSError:
            pass
        conn.close()
        time.sleep(0.02)
    pytest.fail(f"no connection reached worker {index} (seen: {seen}):\n{server.log_tail()}")


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | str = b"",
         user: tuple[str, str] | None = ADMIN, **headers: str) -> tuple[int, dict[str, str], bytes]:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if user is not None:
        sent["Authorization"] = _auth(user)
    conn.request(method, path, body=body, headers=sent)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    env = {"OCIS_WORKERS": "2", "OCIS_WORKERS_DEBUG": "true", "PROXY_LOGIN_MAX_FAILURES": "3",
           "PROXY_LOGIN_FAILURE_DELAY": "0", "PROXY_ENABLE_APP_AUTH": "true"}
    with launch_real_server(tmp_path_factory.mktemp("workers"), env) as srv:
        pinned(srv, 0).close()
        pinned(srv, 1).close()
        yield srv


@pytest.fixture
def w0(server: RealServer) -> Iterator[http.client.HTTPConnection]:
    conn = pinned(server, 0)
    yield conn
    conn.close()


@pytest.fixture
def w1(server: RealServer) -> Iterator[http.client.HTTPConnection]:
    conn = pinned(server, 1)
    yield conn
    conn.close()


def _etag(conn: http.client.HTTPConnection, path: str) -> str:
    status, _, body = call(conn, "PROPFIND", path, Depth="0")
    assert status == 207, body
    start = body.index(b"getetag>") + len(b"getetag>")
    return body[start:body.index(b"<", start)].decode()


def test_a_change_through_one_worker_is_seen_through_the_other(
        w0: http.client.HTTPConnection, w1: http.client.HTTPConnection) -> None:
    root = "/remote.php/dav/files/admin/"
    before0, before1 = _etag(w0, root), _etag(w1, root)      # both cache the Depth 0 answer
    assert before0 == before1
    assert call(w1, "PUT", root + "seen.txt", b"one")[0] == 201
    assert _etag(w0, root) != before0                         # the poll sees worker 1's upload
    assert call(w0, "GET", root + "seen.txt")[2] == b"one"
    assert call(w0, "PUT", root + "seen.txt", b"two, longer")[0] == 204
    assert call(w1, "GET", root + "seen.txt")[2] == b"two, longer"
    assert _etag(w1, root + "seen.txt") == _etag(w0, root + "seen.txt")
    assert call(w1, "MOVE", root + "seen.txt", Destination=root + "moved.txt")[0] == 201
    assert call(w0, "GET", root + "seen.txt")[0] == 404
    assert call(w0, "DELETE", root + "moved.txt")[0] == 204
    assert call(w1, "GET", root + "moved.txt")[0] == 404


def test_locks_are_shared(w0: http.client.HTTPConnection, w1: http.client.HTTPConnection) -> None:
    path = "/remote.php/dav/files/admin/locked.txt"
    assert call(w0, "PUT", path, b"x")[0] == 201
    call(w1, "PUT", path, b"y")                                # worker 1 has it cached unlocked
    lock = ('<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
            '</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>')
    status, headers, _ = call(w0, "LOCK", path, lock, Timeout="Second-600")
    assert status == 200
    assert call(w1, "PUT", path, b"z")[0] == 423
    token = headers["lock-token"]
    assert call(w1, "PUT", path, b"z", If=f"({token})")[0] == 204
    assert call(w1, "UNLOCK", path, Lock_Token=token)[0] == 204
    assert call(w0, "PUT", path, b"free")[0] == 204


def test_a_tus_upload_moves_between_workers(w0: http.client.HTTPConnection,
                                            w1: http.client.HTTPConnection) -> None:
    name = base64.b64encode(b"tus.bin").decode()
    status, headers, body = call(w0, "POST", "/remote.php/dav/files/admin/", Tus_Resumable="1.0.0",
                                 Upload_Length="10", Upload_Metadata=f"filename {name}")
    assert status == 201, body
    location = urlsplit(headers["location"]).path
    tus = {"Tus_Resumable": "1.0.0", "Content_Type": "application/offset+octet-stream"}
    status, headers, _ = call(w1, "PATCH", location, b"01234", Upload_Offset="0", **tus)
    assert status == 204 and headers["upload-offset"] == "5"
    status, headers, _ = call(w0, "HEAD", location, Tus_Resumable="1.0.0")
    assert status == 200 and headers["upload-offset"] == "5"
    assert call(w0, "PATCH", location, b"56789", Upload_Offset="5", **tus)[0] == 204
    assert call(w1, "GET", "/remote.php/dav/files/admin/tus.bin")[2] == b"0123456789"


def test_a_chunked_upload_moves_between_workers(w0: http.client.HTTPConnection,
                                               w1: http.client.HTTPConnection) -> None:
    transfer = "/remote.php/dav/uploads/admin/chunked-1"
    data = b"0123456789abcdef" * 8
    assert call(w0, "MKCOL", transfer, OC_Total_Length=str(len(data)))[0] == 201
    assert call(w1, "PUT", f"{transfer}/{0:016d}", data[:64], OC_Chunk_Offset="0")[0] == 201
    assert call(w0, "PUT", f"{transfer}/{64:016d}", data[64:], OC_Chunk_Offset="64")[0] == 201
    status, _, body = call(w1, "MOVE", f"{transfer}/.file", OC_Total_Length=str(len(data)),
                           Destination="/remote.php/dav/files/admin/chunked.bin")
    assert status == 201, body
    assert call(w0, "GET", "/remote.php/dav/files/admin/chunked.bin")[2] == data
    assert call(w0, "PROPFIND", transfer, Depth="1")[0] == 404          # the session is gone


def test_users_passwords_and_app_tokens_are_shared(w0: http.client.HTTPConnection,
                                                   w1: http.client.HTTPConnection) -> None:
    user = {"onPremisesSamAccountName": "wanda", "displayName": "Wanda",
            "mail": "wanda@example.org", "passwordProfile": {"password": "first-pass-1"}}
    status, _, body = call(w0, "POST", "/graph/v1.0/users", json.dumps(user),
                           Content_Type="application/json")
    assert status in (200, 201), body
    wanda = ("wanda", "first-pass-1")
    home = "/remote.php/dav/files/wanda/"
    assert call(w1, "PROPFIND", home, user=wanda, Depth="0")[0] == 207   # worker 1 knows her
    assert call(w0, "PROPFIND", home, user=wanda, Depth="0")[0] == 207   # her password cached
    change = {"currentPassword": "first-pass-1", "newPassword": "second-pass-2"}
    status, _, body = call(w1, "POST", "/graph/v1.0/me/changePassword", json.dumps(change),
                           user=wanda, Content_Type="application/json")
    assert status == 204, body
    assert call(w0, "PROPFIND", home, user=wanda, Depth="0")[0] == 401   # not the cached one
    assert call(w0, "PROPFIND", home, user=("wanda", "second-pass-2"), Depth="0")[0] == 207
    status, _, body = call(w0, "POST", "/auth-app/tokens?expiry=1h", user=EINSTEIN)
    assert status == 200, body
    token = json.loads(body)["token"]
    assert call(w1, "PROPFIND", "/remote.php/dav/files/einstein/", user=("einstein", token),
                Depth="0")[0] == 207


def test_the_login_throttle_counts_both_workers(w0: http.client.HTTPConnection,
                                                w1: http.client.HTTPConnection) -> None:
    path = "/remote.php/dav/files/richard/"
    for conn in (w0, w1, w0):           # PROXY_LOGIN_MAX_FAILURES=3, spread over the workers
        assert call(conn, "PROPFIND", path, user=("richard", "wrong"), Depth="0")[0] == 401
    # worker 1 saw one failure itself: it refuses because it counts worker 0's too
    assert call(w1, "PROPFIND", path, user=("richard", "superfluidity"), Depth="0")[0] == 429
    assert call(w0, "PROPFIND", path, user=("richard", "superfluidity"), Depth="0")[0] == 429


def _sse_lines(conn: http.client.HTTPConnection, seconds: float) -> list[str]:
    """What the stream sent within `seconds` (it must keep sending nothing else meanwhile)."""
    assert conn.sock is not None
    conn.sock.settimeout(0.3)
    lines: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            line = conn.sock.recv(65536)
        except TimeoutError:
            continue
        if not line:
            break
        lines += line.decode().splitlines()
    return lines


def test_an_event_reaches_a_stream_on_the_other_worker_once(
        server: RealServer, w1: http.client.HTTPConnection) -> None:
    stream = pinned(server, 0)
    try:
        stream.putrequest("GET", SSE_PATH)
        stream.putheader("Authorization", _auth(EINSTEIN))
        stream.endheaders()
        assert stream.sock is not None
        head = b""
        while b": connected" not in head:
            head += stream.sock.recv(65536)
        assert b" 200 " in head.split(b"\r\n", 1)[0] and b"X-Ocis-Worker: 0" in head
        assert call(w1, "PUT", "/remote.php/dav/files/einstein/evented.txt", b"e",
                    user=EINSTEIN)[0] == 201
        lines = _sse_lines(stream, 3.0)
        assert lines.count("event: postprocessing-finished") == 1, lines
    finally:
        stream.close()


def test_a_notification_is_written_once(w0: http.client.HTTPConnection,
                                        w1: http.client.HTTPConnection) -> None:
    assert call(w1, "PUT", "/remote.php/dav/files/einstein/for-marie.txt", b"m",
                user=EINSTEIN)[0] == 201
    status, _, body = call(w1, "POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                           "path=/for-marie.txt&shareType=0&shareWith=marie&permissions=1",
                           user=EINSTEIN, Content_Type="application/x-www-form-urlencoded")
    assert status == 200, body
    deadline = time.monotonic() + 10
    notes: list[Any] = []
    while time.monotonic() < deadline and not notes:
        status, _, body = call(w0, "GET", NOTES, user=MARIE)
        assert status == 200, body
        notes = json.loads(body)["ocs"]["data"]
        time.sleep(0.1)
    time.sleep(1.5)                     # a second worker writing it too would have done so now
    for conn in (w0, w1):
        notes = json.loads(call(conn, "GET", NOTES, user=MARIE)[2])["ocs"]["data"]
        assert [n["subject"] for n in notes] == ["Resource shared"], notes


def _workers(server: RealServer) -> dict[int, int]:
    """worker index -> pid, from the parent's children."""
    found: dict[int, int] = {}
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    for pid in children.read_text().split():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"OCIS_WORKER_INDEX="):
                found[int(item.split(b"=", 1)[1])] = int(pid)
    return found


def test_background_listeners_run_once(server: RealServer) -> None:
    log = server.log_tail(200_000)
    assert log.count("idm listening on ldaps://") == 1, log      # worker 0 only
    assert "worker 0: runtime listening on" in log
    result = server.ocis("list", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert "ocdav" in result.stdout


def test_a_killed_worker_is_replaced_and_loses_no_acknowledged_write(server: RealServer) -> None:
    before = _workers(server)
    assert set(before) == {0, 1}, before
    w1 = pinned(server, 1)
    assert call(w1, "PUT", "/remote.php/dav/files/admin/durable.txt", b"kept")[0] == 201
    os.kill(before[1], signal.SIGKILL)
    w1.close()
    w0 = pinned(server, 0)
    assert call(w0, "GET", "/remote.php/dav/files/admin/durable.txt")[2] == b"kept"
    w0.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = _workers(server)
        if now.get(1) not in (None, before[1]):
            break
        time.sleep(0.2)
    assert _workers(server).get(1) not in (None, before[1]), server.log_tail()
    again = pinned(server, 1)
    assert call(again, "GET", "/remote.php/dav/files/admin/durable.txt")[2] == b"kept"
    again.close()


def test_the_primary_killed_is_replaced_with_its_control_api(server: RealServer) -> None:
    before = _workers(server)
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _workers(server).get(0) in (None, before[0]):
        time.sleep(0.2)
    assert _workers(server).get(0) not in (None, before[0]), server.log_tail()
    w0 = pinned(server, 0)
    assert call(w0, "GET", "/remote.php/dav/files/admin/durable.txt")[2] == b"kept"
    w0.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.ocis("health").returncode != 0:
        time.sleep(0.5)
    assert server.ocis("health").returncode == 0, server.log_tail()


def test_the_default_is_one_worker_per_core(tmp_path: Path) -> None:
    from ocis_server.config import load_config
    from ocis_server.runtime.workers import worker_count

    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path / "config"),
                          "OCIS_BASE_DATA_PATH": str(tmp_path / "data")})
    assert config.workers == 0
    assert worker_count(config) == len(os.sched_getaffinity(0))


def test_the_default_is_one_process_where_workers_cannot_share(tmp_path: Path) -> None:
    """Several providers in one process keep upload sessions in memory: by default that layout
    runs one process; asked for explicitly, several workers are refused at start."""
    from ocis_server.config import ConfigError, load_config
    from ocis_server.runtime.workers import check_layout, worker_count

    env = {"OCIS_CONFIG_DIR": str(tmp_path / "config"), "OCIS_BASE_DATA_PATH": str(tmp_path / "data"),
           "STORAGE_USERS_EXTRA_MOUNT_IDS": "storage-2"}
    assert worker_count(load_config(env)) == 1
    explicit = load_config({**env, "OCIS_WORKERS": "2"})
    assert worker_count(explicit) == 2
    with pytest.raises(ConfigError, match="OCIS_WORKERS=1"):
        check_layout(explicit)


def test_zero_workers_means_one_per_core(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    with launch_real_server(tmp_path / "cores", {"OCIS_WORKERS": "0",
                                                 "OCIS_WORKERS_DEBUG": "true"}) as srv:
        for index in range(cores):
            pinned(srv, index).close()
        assert set(_workers(srv)) == set(range(cores))


def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    with launch_real_server(tmp_path / "stop", {"OCIS_WORKERS": "2",
                                                "OCIS_WORKERS_DEBUG": "true"}) as srv:
        pinned(srv, 1).close()
        pids = _workers(srv)
        assert set(pids) == {0, 1}
        srv.process.send_signal(signal.SIGTERM)
        assert srv.process.wait(timeout=60) == 0
        for pid in pids.values():
            assert not Path(f"/proc/{pid}").exists() or \
                "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
