"""kill -9 a real server at many points of uploads and tree operations; after each crash restart
it on the same data and check that every acknowledged write is whole (SHA1), nothing half-written is
visible, folder sizes add up, the root etag still moves, and `ocis backup consistency` passes.

Kill timing is deterministic where it can be (N body bytes sent, then SIGKILL; SIGSTOP at a chosen
moment, then SIGKILL; response read, then SIGKILL) and otherwise drawn from a seeded RNG
(world.SEED).
The tests of a module share one server and one ledger (conftest.py) and run in file order; each
leaves the world verified.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from .harness import DAV, body_of, read_response
from .world import World

pytestmark = pytest.mark.slow

BIG = 2 * 1024 * 1024 + 17   # crosses the server's 1 MiB write-buffer flush


def _kill_after_sending(world: World, method: str, path: str, data: bytes, sent: int,
                        headers: dict[str, str] | None = None) -> None:
    srv = world.up()
    sock = srv.open_raw(method, DAV + path, {"Content-Length": str(len(data)), **(headers or {})})
    if sent:
        sock.sendall(data[:sent])
    time.sleep(0.15)   # let the server take the bytes in
    srv.kill9()
    sock.close()


# --- PUT: a new file ----------------------------------------------------------------------------

@pytest.mark.parametrize("sent", [0, 1, 65536, 1024 * 1024 + 1, BIG - 1],
                         ids=["head-only", "1-byte", "64KiB", "1MiB+1", "all-but-one"])
def test_kill_mid_put_of_a_new_file(world: World, sent: int) -> None:
    path = f"/mid-put-{sent}.bin"
    _kill_after_sending(world, "PUT", path, body_of(sent, BIG), sent)
    world.recover(f"mid-PUT new file after {sent} bytes")
    assert world.content(path) is None     # never acknowledged: no trace, not even empty
    world.verify()


def test_kill_mid_put_with_chunked_transfer_encoding(world: World) -> None:
    srv = world.up()
    sock = srv.open_raw("PUT", DAV + "/te-chunked.bin", {"Transfer-Encoding": "chunked"})
    piece = body_of(7, 300_000)
    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    time.sleep(0.15)
    srv.kill9()
    sock.close()
    world.recover("mid-PUT with Transfer-Encoding: chunked")
    assert world.content("/te-chunked.bin") is None
    world.verify()


def test_kill_right_after_201(world: World) -> None:
    srv = world.up()
    data = body_of(201, BIG)
    sock = srv.open_raw("PUT", DAV + "/acked.bin", {"Content-Length": str(len(data))})
    sock.sendall(data)
    status, _ = read_response(sock)
    assert status == 201
    srv.kill9()        # the very moment the client has its answer
    world.ledger.add_file("/acked.bin", data)
    world.recover("right after 201 of a new file")
    world.verify()


# --- PUT: overwriting ---------------------------------------------------------------------------

@pytest.mark.parametrize("part", ["half", "all-but-one"])
def test_kill_mid_overwrite_keeps_the_old_version_whole(world: World, part: str) -> None:
    old = body_of(1000, BIG)
    world.put("/over.bin", old)
    new = body_of(1001, BIG + 5)
    _kill_after_sending(world, "PUT", "/over.bin", new, len(new) // 2 if part == "half"
                        else len(new) - 1)
    world.recover(f"mid-PUT overwrite ({part})")
    assert world.content("/over.bin") == old
    world.verify()


def test_kill_after_whole_overwrite_body_frozen(world: World) -> None:
    """Whole body sent, server frozen at once (SIGSTOP) then killed: old or new, never mixed."""
    old, new = body_of(1100, BIG), body_of(1101, BIG + 9)
    world.put("/frozen.bin", old)
    srv = world.up()
    sock = srv.open_raw("PUT", DAV + "/frozen.bin", {"Content-Length": str(len(new))})
    sock.sendall(new)
    srv.freeze_then_kill()
    sock.close()
    world.recover("overwrite body complete, SIGSTOP+SIGKILL before the answer")
    got = world.content("/frozen.bin")
    assert got in (old, new)
    world.note("new content" if got == new else "old content")
    world.ledger.add_file("/frozen.bin", got)   # type: ignore[arg-type]
    world.verify()


def test_kill_right_after_204_of_an_overwrite(world: World) -> None:
    world.put("/over2.txt", b"first version")
    srv = world.up()
    data = body_of(204, 100_000)
    sock = srv.open_raw("PUT", DAV + "/over2.txt", {"Content-Length": str(len(data))})
    sock.sendall(data)
    status, _ = read_response(sock)
    assert status == 204
    srv.kill9()
    world.ledger.add_file("/over2.txt", data)
    world.recover("right after 204 of an overwrite")
    world.verify()


# --- tree operations --------------------------------------------------------------------------

def _raw_then_kill(world: World, method: str, path: str, headers: dict[str, str],
                   body: bytes = b"", delay: float | None = None) -> int | None:
    """Send a request; kill after `delay` (None: after reading the answer). Returns the status
    if the answer was read."""
    srv = world.up()
    url = path if path.startswith("/remote.php/") else DAV + path   # meta/, trash-bin/ as given
    sock = srv.open_raw(method, url, {"Content-Length": str(len(body)), **headers})
    sock.sendall(body)
    status = None
    if delay is None:
        status, _ = read_response(sock)
    else:
        time.sleep(delay)
    srv.kill9()
    sock.close()
    return status


def _snapshot(world: World, top: str) -> dict[str, bytes]:
    return {k[len(top):]: v for k, v in world.ledger.files.items() if k.startswith(top + "/")}


def test_kill_during_move_of_a_file(world: World) -> None:
    world.mkcol("/mv")
    data = body_of(31, 50_000)
    world.put("/mv/src.bin", data)
    _raw_then_kill(world, "MOVE", "/mv/src.bin", {"Destination": world.dest("/mv/dst.bin")},
                   delay=world.delay())
    world.recover("during MOVE of a file")
    src, dst = world.content("/mv/src.bin"), world.content("/mv/dst.bin")
    assert (src, dst) in ((data, None), (None, data))
    world.note("moved" if dst is not None else "not moved")
    if dst is not None:
        world.ledger.move_tree("/mv/src.bin", "/mv/dst.bin")
    world.verify()


def test_kill_during_move_of_a_folder(world: World) -> None:
    world.tree("/t1", seed=41)
    world.mkcol("/moved")
    before = _snapshot(world, "/t1")
    _raw_then_kill(world, "MOVE", "/t1", {"Destination": world.dest("/moved/t1")},
                   delay=world.delay())
    world.recover("during MOVE of a folder tree")
    moved = world.content("/moved/t1/f0.bin") is not None
    world.note("moved" if moved else "not moved")
    if moved:
        world.ledger.move_tree("/t1", "/moved/t1")
        assert _snapshot(world, "/moved/t1") == before
    world.verify()


def test_kill_during_move_over_an_existing_file(world: World) -> None:
    a, b = body_of(51, 70_000), body_of(52, 90_000)
    world.put("/mvo-src.bin", a)
    world.put("/mvo-dst.bin", b)
    _raw_then_kill(world, "MOVE", "/mvo-src.bin", {"Destination": world.dest("/mvo-dst.bin"),
                                                   "Overwrite": "T"}, delay=world.delay())
    world.recover("during MOVE with Overwrite: T")
    src, dst = world.content("/mvo-src.bin"), world.content("/mvo-dst.bin")
    assert (src, dst) in ((a, b), (None, a))
    world.note("moved" if src is None else "not moved")
    if src is None:
        world.ledger.drop_tree("/mvo-dst.bin")
        world.ledger.move_tree("/mvo-src.bin", "/mvo-dst.bin")
    world.verify()


def test_kill_during_copy_of_a_tree(world: World) -> None:
    world.tree("/t2", seed=61, files=9)
    _raw_then_kill(world, "COPY", "/t2", {"Destination": world.dest("/t2-copy")},
                   delay=world.delay(0.01))
    world.recover("during COPY of a folder tree")
    copied = world.content("/t2-copy/f0.bin") is not None
    world.note("copied" if copied else "not copied")
    if copied:   # all or nothing: verify() compares the whole tree
        world.ledger.copy_tree("/t2", "/t2-copy")
    world.verify()


def test_kill_right_after_copy_201(world: World) -> None:
    status = _raw_then_kill(world, "COPY", "/t2", {"Destination": world.dest("/t2-acked")})
    assert status == 201
    world.ledger.copy_tree("/t2", "/t2-acked")
    world.recover("right after 201 of a COPY")
    world.verify()


def test_kill_during_delete_of_a_file(world: World) -> None:
    data = body_of(71, 40_000)
    world.put("/del.bin", data)
    _raw_then_kill(world, "DELETE", "/del.bin", {}, delay=world.delay(0.01))
    world.recover("during DELETE of a file")
    got = world.content("/del.bin")
    assert got in (data, None)
    world.note("deleted" if got is None else "not deleted")
    if got is None:
        world.ledger.drop_tree("/del.bin")
    world.verify()


def test_kill_during_delete_of_a_folder(world: World) -> None:
    world.tree("/t3", seed=81)
    _raw_then_kill(world, "DELETE", "/t3", {}, delay=world.delay(0.01))
    world.recover("during DELETE of a folder tree")
    world.note("deleted" if world.content("/t3/a/b/f2.bin") is None else "not deleted")
    if world.content("/t3/a/b/f2.bin") is None:
        assert world.content("/t3/f0.bin") is None
        world.ledger.drop_tree("/t3")
    world.verify()


def test_kill_right_after_delete_204(world: World) -> None:
    world.put("/del2.txt", b"to be deleted")
    assert _raw_then_kill(world, "DELETE", "/del2.txt", {}) == 204
    world.ledger.drop_tree("/del2.txt")
    world.recover("right after 204 of a DELETE")
    world.verify()


_PATCH = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:crash-test">'
          '<d:set><d:prop><x:color>{}</x:color></d:prop></d:set></d:propertyupdate>')


def test_kill_right_after_proppatch(world: World) -> None:
    world.put("/props.txt", b"has props")
    status = _raw_then_kill(world, "PROPPATCH", "/props.txt", {"Content-Type": "application/xml"},
                            _PATCH.format("blue").encode())
    assert status == 207
    world.ledger.props["/props.txt"] = {"color": "blue"}
    world.recover("right after 207 of a PROPPATCH")
    world.verify()


def test_kill_during_proppatch(world: World) -> None:
    _raw_then_kill(world, "PROPPATCH", "/props.txt", {"Content-Type": "application/xml"},
                   _PATCH.format("green").encode(), delay=world.delay(0.01))
    world.recover("during PROPPATCH")
    row = world.server.propfind("/props.txt", "0")[0]
    assert row.get("color") in ("blue", "green")
    world.note(f"color {row['color']}")
    world.ledger.props["/props.txt"] = {"color": row["color"]}
    world.verify()


def test_kill_right_after_mkcol(world: World) -> None:
    assert _raw_then_kill(world, "MKCOL", "/newdir", {}) == 201
    world.ledger.folders.add("/newdir")
    world.recover("right after 201 of a MKCOL")
    world.verify()


def test_kill_during_mkcol(world: World) -> None:
    _raw_then_kill(world, "MKCOL", "/newdir/maybe", {}, delay=world.delay(0.01))
    world.recover("during MKCOL")
    rows = world.server.propfind("/newdir", "1")
    made = any(r["path"] == "/newdir/maybe" for r in rows)
    world.note("created" if made else "not created")
    if made:
        world.ledger.folders.add("/newdir/maybe")
    world.verify()


# --- many uploads at once ------------------------------------------------------------------------

def test_kill_during_many_parallel_puts(world: World) -> None:
    """12 clients upload at once; the server dies while they run. Whatever got its 201 is whole;
    the rest is absent or whole."""
    srv = world.up()
    world.mkcol("/par")
    bodies = {f"/par/p{i}.bin": body_of(900 + i, 150_000 + 40_000 * i) for i in range(12)}
    acked: dict[str, bytes] = {}
    lock = threading.Lock()

    def upload(path: str, data: bytes) -> None:
        try:
            sock = srv.open_raw("PUT", DAV + path, {"Content-Length": str(len(data))})
            for start in range(0, len(data), 64 * 1024):   # a slow client: in flight for a while
                sock.sendall(data[start:start + 64 * 1024])
                time.sleep(0.01)
            status, _ = read_response(sock)
            sock.close()
        except (OSError, ValueError, IndexError):
            return
        if status == 201:
            with lock:
                acked[path] = data

    threads = [threading.Thread(target=upload, args=item) for item in bodies.items()]
    for t in threads:
        t.start()
    time.sleep(0.03 + world.delay(0.12))
    with lock:
        srv.kill9()
        done = dict(acked)
    for t in threads:
        t.join(timeout=30)
    world.recover(f"during 12 parallel PUTs ({len(done)} acknowledged before the kill)")
    for path, data in bodies.items():
        got = world.content(path)
        if path in done:
            assert got == data, path
        assert got in (None, data), path
        if got is not None:
            world.ledger.add_file(path, data)
    world.note(f"{sum(1 for p in bodies if p in world.ledger.files)} of 12 files present")
    world.verify()


def test_final_consistency_via_cli(world: World) -> None:
    """The CLI itself on the configured data path (what CI runs after the crash tests): while
    the server runs a check is read-only and --repair is refused (exit 5); stopped, exit 0."""
    def ocis(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ocis_cli", "backup", "consistency", *args],
                              env=world.server.env, capture_output=True, text=True, timeout=60,
                              check=False, stdin=subprocess.DEVNULL)

    world.up()
    live = ocis("--repair")
    assert live.returncode == 5, live.stdout + live.stderr
    assert "OCIS_RUNTIME_PORT" in live.stderr
    world.server.stop()
    done = ocis()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "consistent" in done.stderr
    assert len(world.crash_points) >= 20, world.crash_points
