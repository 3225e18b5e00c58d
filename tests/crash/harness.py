"""Crash-test harness: a real `ocis server` subprocess that can be killed with SIGKILL and started
again on the same data, a raw HTTP client that can stop half-way through a body, and a ledger of
acknowledged writes that is verified (content SHA1, listings, tree sizes, etags) after each restart.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from tests.conftest import ADMIN_PASSWORD, _status_ok, free_port, server_env

DAV = "/remote.php/dav/files/admin"
AUTH = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
NS = {"d": "DAV:", "oc": "http://owncloud.org/ns"}
START_TIMEOUT = 30.0
PROPS = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"'
         b' xmlns:x="urn:crash-test"><d:prop><d:getetag/><d:getcontentlength/><d:resourcetype/>'
         b'<oc:size/><oc:fileid/><x:color/></d:prop></d:propfind>')


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def body_of(seed: int, size: int) -> bytes:
    """Deterministic, incompressible-looking content: a torn write can never look right."""
    out = bytearray()
    block = hashlib.sha256(f"seed-{seed}".encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class CrashServer:
    """One data directory; `start()` runs `ocis server` on it (fresh ports each time)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.env: dict[str, str] = {}
        self.starts = 0
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def data_path(self) -> Path:
        return self.workdir / "data"

    def start(self) -> None:
        self.port, runtime_port = free_port(), free_port()
        self.env = server_env(self.workdir, self.port, runtime_port)
        if not (self.workdir / "config" / "ocis.toml").exists():
            subprocess.run([sys.executable, "-m", "ocis_cli", "init", "--insecure", "true",
                            "--admin-password", ADMIN_PASSWORD], env=self.env, cwd=self.workdir,
                           capture_output=True, timeout=60, check=True, stdin=subprocess.DEVNULL)
        log = (self.workdir / "server.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=self.env,
                                     cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while not _status_ok(f"http://127.0.0.1:{self.port}"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs (the point of these tests)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def freeze_then_kill(self) -> None:
        """SIGSTOP first (the process stops exactly where it is), then SIGKILL."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.kill9()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return (self.workdir / "server.log").read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    # --- HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None, timeout: float = 30.0) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, quote(path), body=body,
                         headers={"Authorization": AUTH, **(headers or {})})
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        except OSError as exc:
            alive = self.proc is not None and self.proc.poll() is None
            raise AssertionError(f"{method} {path}: {exc!r} (server process alive: {alive})\n"
                                 f"{self.log_tail()}") from exc
        finally:
            conn.close()

    def open_raw(self, method: str, path: str, headers: dict[str, str]) -> socket.socket:
        """A socket with the request head sent: the caller sends (part of) the body."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        lines = [f"{method} {quote(path)} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                 f"Authorization: {AUTH}", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return sock

    def dest(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{quote(DAV + path)}"

    def propfind(self, path: str, depth: str = "1") -> list[dict[str, str]]:
        resp = self.request("PROPFIND", DAV + path, body=PROPS, headers={
            "Depth": depth, "Content-Type": "application/xml"})
        assert resp.status == 207, (path, resp.status, resp.body[:300])
        out = []
        for item in ET.fromstring(resp.body).findall("d:response", NS):
            href = unquote(urlsplit(item.findtext("d:href", "", NS)).path)
            row = {"path": href.removeprefix(DAV).rstrip("/") or "/"}
            for stat in item.findall("d:propstat", NS):
                if "200" not in stat.findtext("d:status", "", NS):
                    continue
                for prop in stat.find("d:prop", NS) or []:
                    tag = prop.tag.split("}")[-1]
                    row[tag] = "collection" if prop.find("d:collection", NS) is not None \
                        else (prop.text or "")
            out.append(row)
        return out


def read_status(sock: socket.socket) -> int:
    """Read until the status line of the response has arrived."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before a response")
        data += chunk
    return int(data.split(b" ", 2)[1])


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and the whole head (enough for 201/204 without a body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


@dataclass
class Ledger:
    """What the server acknowledged: file path -> content, folders, dead props; plus paths an
    unacknowledged operation may or may not have created (resolved after the restart)."""

    files: dict[str, bytes] = field(default_factory=dict)
    folders: set[str] = field(default_factory=lambda: {"/"})
    props: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_file(self, path: str, data: bytes) -> None:
        self.files[path] = data

    def move_tree(self, src: str, dst: str) -> None:
        for table in (self.files, self.props):
            for key in [k for k in table if k == src or k.startswith(src + "/")]:
                table[dst + key[len(src):]] = table.pop(key)
        for key in [k for k in self.folders if k == src or k.startswith(src + "/")]:
            self.folders.discard(key)
            self.folders.add(dst + key[len(src):])

    def copy_tree(self, src: str, dst: str) -> None:
        for key in [k for k in self.files if k == src or k.startswith(src + "/")]:
            self.files[dst + key[len(src):]] = self.files[key]
        for key in [k for k in self.folders if k == src or k.startswith(src + "/")]:
            self.folders.add(dst + key[len(src):])

    def drop_tree(self, path: str) -> None:
        for table in (self.files, self.props):
            for key in [k for k in table if k == path or k.startswith(path + "/")]:
                del table[key]
        self.folders = {k for k in self.folders if not (k == path or k.startswith(path + "/"))}

    def has_tree(self, path: str) -> bool:
        return path in self.files or path in self.folders
