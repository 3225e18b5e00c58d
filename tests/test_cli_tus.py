"""`ocis put` over TUS with resume, the SDK's TUS pieces, and `ocis storage-users uploads sessions`.

Unit tests for the parts that need no server; the operator command against a real storage; the
resume story (Ctrl-C, re-run, clean) against the real server and the real CLI in subprocesses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ocis_cli.client.tus import (
    DEFAULT_CHUNK_SIZE,
    ResumeStore,
    TusSupport,
    UploadState,
    encode_metadata,
    sha1_header,
)
from ocis_cli.main import app

# --- the SDK's pieces -----------------------------------------------------------------------------


def _caps(tus: dict[str, Any] | None) -> dict[str, Any]:
    return {"capabilities": {"files": {"tus_support": tus} if tus is not None else {}}}


def test_tus_support_from_capabilities() -> None:
    found = TusSupport.from_capabilities(_caps({
        "version": "1.0.0", "resumable": "1.0.0", "extension": "creation,creation-with-upload",
        "max_chunk_size": 10000000, "http_method_override": ""}))
    assert found is not None
    assert found.extensions == {"creation", "creation-with-upload"}
    assert found.max_chunk_size == 10_000_000
    assert TusSupport.from_capabilities(_caps(None)) is None
    assert TusSupport.from_capabilities(_caps({"version": ""})) is None
    assert TusSupport.from_capabilities({}) is None
    missing = TusSupport.from_capabilities(_caps({"version": "1.0.0"}))
    assert missing is not None and missing.max_chunk_size == DEFAULT_CHUNK_SIZE


def test_chunk_size_is_capped_by_the_server_and_zero_is_unlimited() -> None:
    limited = TusSupport("1.0.0", frozenset(), max_chunk_size=1000)
    assert limited.chunk_size() == 1000
    assert limited.chunk_size(300) == 300
    assert limited.chunk_size(5000) == 1000
    unlimited = TusSupport("1.0.0", frozenset(), max_chunk_size=0)
    assert unlimited.chunk_size() == 0          # the caller sends the file in one request
    assert unlimited.chunk_size(4096) == 4096


def test_metadata_and_chunk_checksum_encoding() -> None:
    header = encode_metadata({"filename": "ä b.txt", "checksum": "sha1 abc"})
    pairs = dict(item.split(" ") for item in header.split(","))
    assert base64.b64decode(pairs["filename"]).decode() == "ä b.txt"
    assert base64.b64decode(pairs["checksum"]).decode() == "sha1 abc"
    algo, digest = sha1_header(b"hello").split(" ")
    assert algo == "sha1" and base64.b64decode(digest) == hashlib.sha1(b"hello").digest()


def test_resume_store_round_trip_is_private_and_forgets_bad_files(tmp_path: Path) -> None:
    store = ResumeStore(tmp_path / "uploads")
    local = tmp_path / "a.bin"
    local.write_bytes(b"x" * 10)
    key = ("ctx", "http://h", "admin", str(local), "space:/a.bin")
    assert store.load(key) is None
    state = UploadState(local=str(local.resolve()), size=10, mtime=5, sha1="ab",
                        remote="space:/a.bin", location="http://h/data/tok")
    store.save(key, state)
    assert store.path(key).stat().st_mode & 0o777 == 0o600
    assert store.load(key) == state
    assert store.load(key[:-1] + ("space:/b.bin",)) is None      # another target, another file
    assert state.matches(local, 10, 5, "space:/a.bin")
    assert not state.matches(local, 11, 5, "space:/a.bin")       # the file changed
    assert not state.matches(local, 10, 6, "space:/a.bin")
    store.path(key).write_text("{not json")
    assert store.load(key) is None and not store.path(key).exists()
    store.save(key, state)
    store.delete(key)
    assert not store.path(key).exists()


# --- the SDK against the real WebDAV service, in process ------------------------------------------

TUS_CAPS = _caps({"version": "1.0.0", "resumable": "1.0.0",
                  "extension": "creation,creation-with-upload", "max_chunk_size": 10000000,
                  "http_method_override": ""})


class Interrupted(Exception):
    """Breaks the request body in the middle of an upload (the connection is lost)."""


@pytest.fixture
async def dav(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[tuple[Any, Any, Any, str]]:
    """(SDK client, Tus, storage, space id): the ocdav app over a real storage, reached over a real socket
    (TUS Locations are absolute URLs, so the public URL is the socket's)."""
    from conftest import free_port
    from kit import ALICE, ocdav_root, password_of

    from ocis_cli.client import Client
    from ocis_cli.client.tus import Tus

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root, _, storage = await ocdav_root(tmp_path / "storage", mounts=("/remote.php", "/data"),
                                        ocis_url=url, transfer_secret="s3cret",
                                        upload_expiration=3600)
    await aiohttp_server(root, port=port)

    async def capabilities() -> dict[str, Any]:
        return TUS_CAPS

    async with Client(url, user="alice", password=password_of("alice")) as client:
        yield client, Tus(client.http, capabilities), storage, ALICE.id


async def test_sdk_upload_interrupted_then_resumed_from_the_server_offset(
        tmp_path: Path, dav: Any) -> None:
    from ocis_cli.client import NetworkError

    client, tus, _, space = dav
    local = tmp_path / "f.bin"
    data = os.urandom(10 * 4096 + 7)
    local.write_bytes(data)
    store = ResumeStore(tmp_path / "state")
    key = ("k",)
    sha1 = hashlib.sha1(data).hexdigest()
    mtime = int(local.stat().st_mtime)

    def stop_after_3_chunks(position: int) -> None:
        if position >= 3 * 4096:
            raise Interrupted

    with pytest.raises(NetworkError):       # aiohttp reports the broken body as a lost connection
        await tus.upload(space, "/f.bin", local, sha1=sha1, mtime=mtime, chunk_size=4096,
                         progress=stop_after_3_chunks, store=store, key=key)
    saved = store.load(key)
    assert saved is not None and saved.sha1 == sha1
    held = await tus.offset(saved.location)
    assert 0 < held < len(data)
    assert await client.webdav.exists(space, "/f.bin") is None       # not visible yet

    resumed: list[tuple[int, int]] = []
    positions: list[int] = []
    result = await tus.upload(space, "/f.bin", local, sha1=sha1, mtime=mtime, chunk_size=4096,
                              progress=positions.append, store=store, key=key,
                              on_resume=lambda at, total: resumed.append((at, total)))
    assert resumed == [(held, len(data))]
    assert (result.resumed_from, result.sent) == (held, len(data) - held)
    assert positions[-1] == len(data) and positions == sorted(positions)
    assert result.headers.get("OC-FileId") and store.load(key) is None
    found = await client.webdav.stat(space, "/f.bin")
    assert found.size == len(data) and sha1 in found.checksums.lower()


async def test_sdk_typed_errors_and_starting_over(tmp_path: Path, dav: Any) -> None:
    from ocis_cli.client.tus import OffsetConflict, UploadGone

    _, tus, _, space = dav
    local = tmp_path / "g.bin"
    data = os.urandom(5000)
    local.write_bytes(data)
    await tus.support()
    location, offset, _ = await tus.create(space, "/", "g.bin", len(data), metadata={},
                                           first=data[:1000])
    assert offset == 1000 and "/data/" in location
    fd = os.open(local, os.O_RDONLY)
    try:
        with pytest.raises(OffsetConflict):                          # 409: wrong offset
            await tus.patch(location, fd, 2000, 1000)
        assert await tus.offset(location) == 1000
    finally:
        os.close(fd)
    await tus.terminate(location)
    with pytest.raises(UploadGone):                                  # 404 after termination
        await tus.offset(location)

    # A saved upload the server no longer has: the SDK starts over and finishes.
    store = ResumeStore(tmp_path / "state")
    sha1 = hashlib.sha1(data).hexdigest()
    mtime = int(local.stat().st_mtime)
    store.save(("g",), UploadState(local=str(local.resolve()), size=len(data), mtime=mtime,
                                   sha1=sha1, remote=f"{space}:/g.bin", location=location))
    result = await tus.upload(space, "/g.bin", local, sha1=sha1, mtime=mtime, chunk_size=1024,
                              store=store, key=("g",))
    assert (result.resumed_from, result.sent) == (0, len(data))


async def test_sdk_retries_a_chunk_the_server_found_corrupt(
        tmp_path: Path, dav: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ocis_cli.client.tus as sdk

    _, tus, _, space = dav
    local = tmp_path / "h.bin"
    data = os.urandom(3 * 1024)
    local.write_bytes(data)
    sha1 = hashlib.sha1(data).hexdigest()
    real = sdk.sha1_header
    corrupt = {"left": 1}

    def flaky(chunk: bytes) -> str:                     # the 2nd chunk's first try arrives "bad"
        if corrupt["left"] and chunk == data[1024:2048]:
            corrupt["left"] -= 1
            return real(b"something else")
        return real(chunk)

    monkeypatch.setattr(sdk, "sha1_header", flaky)
    result = await tus.upload(space, "/h.bin", local, sha1=sha1, mtime=1, chunk_size=1024)
    assert corrupt["left"] == 0 and result.sent == len(data)
    monkeypatch.setattr(sdk, "sha1_header", lambda chunk: real(b"never right"))
    with pytest.raises(sdk.ChecksumMismatch) as caught:
        await tus.upload(space, "/h2.bin", local, sha1=sha1, mtime=1, chunk_size=1024)
    assert caught.value.status == 406


# --- the operator command on a real storage -------------------------------------------------------


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _make_sessions(root: Path, storage_id: str) -> None:
    """Two TUS sessions with partial data: one expires at once (200 bytes), one does not (300)."""
    from ocis_server.storage.sqlite import SqliteStorage

    storage = await SqliteStorage.open(root, storage_id)
    try:
        space = await storage.create_space(space_type="project", name="P", owner_id="u1",
                                           alias="project/p")
        short = await storage.create_upload(space.id, ("soon.bin",), size=1000, user_id="u1",
                                            expires_in=0.5)
        await storage.append_upload(short.id, 0, _bytes(b"s" * 200), length=200)
        long = await storage.create_upload(space.id, ("later.bin",), size=1000, user_id="u1",
                                           expires_in=3600)
        await storage.append_upload(long.id, 0, _bytes(b"l" * 300), length=300)
    finally:
        await storage.close()


def test_sessions_list_expired_and_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocis_server.config import load_config, run_init

    for key in list(os.environ):
        if key.startswith(("OCIS_", "STORAGE_", "PROXY_", "IDM_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OCIS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OCIS_BASE_DATA_PATH", str(tmp_path / "data"))
    run_init(insecure=True, admin_password="admin", force_overwrite=False)
    runner = CliRunner()

    def sessions(*args: str) -> Any:
        result = runner.invoke(app, ["storage-users", "uploads", "sessions", *args],
                               prog_name="ocis")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    assert sessions("--json") == []                              # no storage yet: nothing
    asyncio.run(_make_sessions(tmp_path / "data" / "storage" / "users",
                               load_config().storage_id))
    time.sleep(0.6)
    listed = sessions("--json")
    assert [(s["path"], s["size"], s["offset"], s["user"], s["expired"]) for s in listed] == [
        ("/soon.bin", 1000, 200, "u1", True), ("/later.bin", 1000, 300, "u1", False)]
    assert all(s["space"] and s["id"] and s["created"] and s["expires"] for s in listed)
    assert [s["path"] for s in sessions("--expired", "--json")] == ["/soon.bin"]
    table = sessions()
    assert "/later.bin" in table and "/soon.bin" in table

    cleaned = sessions("--expired", "--clean", "--json")
    assert (cleaned["removed"], cleaned["freed"]) == (1, 200)
    assert [s["path"] for s in cleaned["sessions"]] == ["/soon.bin"]
    assert [s["path"] for s in sessions("--json")] == ["/later.bin"]
    text = sessions("--clean")
    assert "removed 1 upload session(s)" in text and "(300 bytes)" in text
    assert sessions("--json") == []


def test_sessions_without_a_config_exits_10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("OCIS_", "STORAGE_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OCIS_CONFIG_DIR", str(tmp_path / "nothing"))
    result = CliRunner().invoke(app, ["storage-users", "uploads", "sessions"], prog_name="ocis")
    assert result.exit_code == 10, result.output


# --- the real server and the real CLI -------------------------------------------------------------


class Cli:
    """`python -m ocis_cli` with the server's environment, private config and state folders."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = {**env, "XDG_CONFIG_HOME": str(workdir / "cli-config"),
                    "XDG_STATE_HOME": str(workdir / "cli-state")}
        self.env.pop("OCIS_CONTEXT", None)
        self.workdir = workdir
        self.state_dir = workdir / "cli-state" / "ocis" / "uploads"

    def run(self, *args: str, expect: int | None = 0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", *args],
                              env={**self.env, **(env or {})}, cwd=self.workdir,
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, check=False)
        if expect is not None:
            assert proc.returncode == expect, (
                f"`ocis {' '.join(args)}` exited {proc.returncode}, expected {expect}\n"
                f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
        return proc

    def interrupted_put(self, local: Path, remote: str, chunk: int) -> dict[str, Any]:
        """Start `ocis put`, send SIGINT as soon as its resume state exists (the server then holds
        at least one chunk); returns that state. The put must exit 130."""
        proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "put", str(local), remote],
                                env={**self.env, "OCIS_TUS_CHUNK_SIZE": str(chunk)},
                                cwd=self.workdir, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        state: dict[str, Any] | None = None
        try:
            while state is None:
                assert proc.poll() is None, f"put ended before the interrupt: {proc.communicate()}"
                assert time.monotonic() < deadline, "no resume state appeared"
                for path in self.state_dir.glob("*.json") if self.state_dir.is_dir() else ():
                    try:
                        state = json.loads(path.read_text())
                    except ValueError:
                        continue                     # being written
                time.sleep(0.005)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, stderr
        assert state["size"] == local.stat().st_size and "/data/" in state["location"]
        return state


def _server_offset(location: str) -> int:
    request = urllib.request.Request(location, method="HEAD",
                                     headers={"Tus-Resumable": "1.0.0"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return int(resp.headers["Upload-Offset"])


@pytest.fixture
def tus_cli(tmp_path: Path, real_server_factory: Callable[..., Any]) -> Iterator[tuple[Any, Cli]]:
    with real_server_factory(tmp_path / "srv") as server:
        cli = Cli(server.env, tmp_path)
        cli.run("login", server.url, "--user", "admin", "--password-from-env",
                env={"OCIS_PASSWORD": "admin"})
        caps = json.loads(urllib.request.urlopen(
            f"{server.url}/ocs/v1.php/cloud/capabilities?format=json", timeout=10).read())
        if not caps["ocs"]["data"]["capabilities"]["files"].get("tus_support"):
            pytest.fail("the server does not advertise files.tus_support")
        yield server, cli


@pytest.mark.slow
def test_put_resumes_after_ctrl_c_and_sessions_show_and_clean(
        tmp_path: Path, tus_cli: tuple[Any, Cli]) -> None:
    _, cli = tus_cli
    chunk = 64 * 1024
    data = os.urandom(64 * chunk + 123)                       # 65 chunks
    local = tmp_path / "big.bin"
    local.write_bytes(data)

    state = cli.interrupted_put(local, "/big.bin", chunk)
    held = _server_offset(state["location"])
    assert 0 < held < len(data)
    listed = json.loads(cli.run("storage-users", "uploads", "sessions", "--json").stdout)
    assert [(s["path"], s["size"], s["offset"]) for s in listed] == [("/big.bin", len(data), held)]
    assert cli.run("stat", "/big.bin", expect=None).returncode == 3   # invisible until complete

    resumed = cli.run("put", str(local), "/big.bin", env={"OCIS_TUS_CHUNK_SIZE": str(chunk)})
    found = re.search(r"resuming at .* \((\d+) of (\d+) bytes\)", resumed.stderr)
    assert found, resumed.stderr
    start = int(found.group(1))
    assert held <= start < len(data) and int(found.group(2)) == len(data)
    sent = re.search(r"sent (\d+) of (\d+) bytes", resumed.stderr)
    assert sent and int(sent.group(1)) == len(data) - start < len(data)
    assert not list(cli.state_dir.glob("*.json"))            # done: the state is gone
    cli.run("get", "/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    assert json.loads(cli.run("storage-users", "uploads", "sessions", "--json").stdout) == []

    # An interrupted upload cleaned by the operator: the next put starts over and still succeeds.
    data2 = os.urandom(40 * chunk)
    local.write_bytes(data2)
    state = cli.interrupted_put(local, "/big.bin", chunk)
    held = _server_offset(state["location"])
    cleaned = cli.run("storage-users", "uploads", "sessions", "--clean")
    assert "removed 1 upload session(s)" in cleaned.stdout
    assert f"({held} bytes)" in cleaned.stdout
    again = cli.run("put", str(local), "/big.bin", env={"OCIS_TUS_CHUNK_SIZE": str(chunk)})
    assert "resuming" not in again.stderr
    cli.run("get", "/big.bin", str(tmp_path / "back2.bin"))
    assert (tmp_path / "back2.bin").read_bytes() == data2


@pytest.mark.slow
def test_put_no_resume_zero_bytes_and_folder_target(tmp_path: Path, tus_cli: tuple[Any, Cli]) -> None:
    _, cli = tus_cli
    chunk = 64 * 1024
    local = tmp_path / "c.bin"
    data = os.urandom(30 * chunk)
    local.write_bytes(data)
    old = cli.interrupted_put(local, "/c.bin", chunk)
    fresh = cli.run("put", "--no-resume", str(local), "/c.bin",
                    env={"OCIS_TUS_CHUNK_SIZE": str(chunk)})
    assert "resuming" not in fresh.stderr
    cli.run("get", "/c.bin", str(tmp_path / "c.back"))
    assert (tmp_path / "c.back").read_bytes() == data
    assert _server_offset(old["location"]) < len(data)         # the old session was left alone

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    cli.run("mkdir", "/docs")
    cli.run("put", str(empty), "/docs/")                       # zero bytes: created at once
    assert json.loads(cli.run("stat", "/docs/empty.txt", "-o", "json").stdout)["size"] == 0

    one = tmp_path / "one.txt"
    one.write_bytes(b"one chunk")
    cli.run("put", str(one), "/docs/")                         # whole file in the creation POST
    cli.run("get", "/docs/one.txt", str(tmp_path / "one.back"))
    assert (tmp_path / "one.back").read_bytes() == b"one chunk"
    assert cli.run("put", str(one), "/docs", expect=None).returncode == 0   # existing folder
    assert cli.run("put", str(one), "/nope/x.txt", expect=None).returncode == 3
