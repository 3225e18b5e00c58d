"""Hostile input against the whole server, in-process, through the real proxy (docs/security-notes.md).

One embedded server per module. Path attacks on every DAV namespace and verb, cross-user access,
XML bombs, broken auth headers, bad Depth values, malformed HTTP, slowloris, bad ids and bad
OCS/Graph input. Every answer must be a clean 4xx (never 500) without host paths or tracebacks,
and no attack may leave anything behind in storage or in the data directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import pytest_asyncio
from kit import basic

from ocis_server.domain.errors import OcisError
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.storage import Node, Storage

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEADER_TIMEOUT = 0.5          # PROXY_HEADER_READ_TIMEOUT of the test server (slowloris guard)
IDLE_TIMEOUT = 3.0            # PROXY_IDLE_TIMEOUT of the test server
MARKER = "evil"               # every attack name contains it: nothing named so may ever exist
ORIGINAL = b"original content of f.txt"
BAD_REQUEST = "Sabre\\DAV\\Exception\\BadRequest"


EINSTEIN = basic("einstein", "relativity")
MARIE = basic("marie", "radioactivity")
ADMIN = basic("admin", "admin")


# --- the server ----------------------------------------------------------------------------------
@dataclass
class World:
    url: str
    host: str
    port: int
    tmp: Path                    # base of config and data: must never appear in a response
    storage: Storage
    storage_id: str
    einstein_id: str
    marie_id: str
    marie_node: str              # resource id of marie's secret.txt
    namespaces: dict[str, str] = field(default_factory=dict)   # name -> encoded root, no slash

    def space(self, space_uuid: str) -> str:
        return f"{self.storage_id}${space_uuid}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("bad-input")
    # The battery sends hundreds of bad credentials from one address on purpose: it checks how a
    # 401 is rendered, so the login throttle (tests/test_auth_basic.py) is set out of its way.
    config = make_test_config(tmp, PROXY_HEADER_READ_TIMEOUT=str(HEADER_TIMEOUT),
                              PROXY_IDLE_TIMEOUT=str(IDLE_TIMEOUT),
                              PROXY_LOGIN_MAX_FAILURES="100000",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="100000")
    async with embedded_server(config) as srv:
        storage = srv.ctx.storage
        users = {u.username: u for u in await srv.ctx.users.list()}
        einstein, marie = users["einstein"].id, users["marie"].id
        await storage.mkdir(einstein, ("sub",))
        await _write(storage, einstein, ("sub", "f.txt"), ORIGINAL)
        secret = await _write(storage, marie, ("secret.txt",), b"marie's secret")
        parts = urlsplit(srv.url)
        sid = storage.storage_id
        w = World(srv.url, parts.hostname or "127.0.0.1", parts.port or 80, tmp, storage, sid,
                  einstein, marie, f"{sid}${marie}!{secret}")
        w.namespaces = {
            "webdav": "/remote.php/webdav",
            "files": "/remote.php/dav/files/einstein",
            "spaces": f"/remote.php/dav/spaces/{quote(w.space(einstein), safe='$')}",
            "dav-spaces": f"/dav/spaces/{quote(w.space(einstein), safe='$')}",
        }
        yield w


async def _write(storage: Storage, space: str, path: tuple[str, ...], data: bytes) -> str:
    async def body() -> AsyncIterator[bytes]:
        yield data
    result = await storage.upload(space, path, body(), length=len(data))
    return str(result.node.id)


# --- raw HTTP ------------------------------------------------------------------------------------
@dataclass
class Raw:
    status: int | None           # None: the server closed without answering
    headers: dict[str, str]
    body: bytes
    broken: bool = False         # the chunked body did not end properly (failure mid-stream)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    """The body of a chunked message and whether its framing was broken."""
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return bytes(out + data), True
        if size == 0:
            return bytes(out), False
        out += rest[:size]
        data = rest[size + 2:]
    return bytes(out), True


def parse_response(data: bytes) -> Raw:
    if not data.startswith(b"HTTP/"):
        return Raw(None, {}, data)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, broken = _dechunk(body)
        return Raw(status, headers, body, broken)
    return Raw(status, headers, body)


async def send_raw(w: World, data: bytes, timeout: float = 10.0) -> Raw:
    """Write `data` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(data)
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), timeout)
    except ConnectionResetError:
        received = b""
    finally:
        writer.close()
    return parse_response(received)


def build_request(w: World, method: str, target: bytes, headers: Mapping[str, str | bytes] | None = None,
                  body: bytes = b"", auth: str | None = EINSTEIN) -> bytes:
    hdrs: dict[str, str | bytes] = {"Host": f"{w.host}:{w.port}", "Connection": "close"}
    if auth:
        hdrs["Authorization"] = auth
    if body or method in ("PUT", "POST", "PROPPATCH"):
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    lines = [method.encode() + b" " + target + b" HTTP/1.1"]
    for key, value in hdrs.items():
        lines.append(key.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def request(w: World, method: str, target: bytes | str, headers: Mapping[str, str | bytes] | None = None,
                  body: bytes = b"", auth: str | None = EINSTEIN) -> Raw:
    if isinstance(target, str):
        target = target.encode()
    return await send_raw(w, build_request(w, method, target, headers, body, auth))


def assert_clean(w: World, resp: Raw, what: str, allowed: tuple[int, ...] = ()) -> None:
    """Never a 5xx for bad input, never a host path or a traceback in a body."""
    assert resp.status is None or resp.status < 500 or resp.status in allowed, \
        f"{what}: {resp.status} {resp.text[:300]}"
    assert not resp.broken, f"{what}: the response broke off mid-body: {resp.text[-300:]}"
    for needle in (str(w.tmp), "Traceback", "/etc/passwd", "root:x:0:0"):
        assert needle not in resp.text, f"{what}: response leaks {needle!r}: {resp.text[:300]}"
        for value in resp.headers.values():
            assert needle not in value, f"{what}: header leaks {needle!r}"


def assert_dav_bad_request(w: World, resp: Raw, what: str) -> None:
    assert_clean(w, resp, what)
    assert resp.status == 400, f"{what}: expected 400, got {resp.status} {resp.text[:300]}"
    assert "<d:error" in resp.text and BAD_REQUEST in resp.text, f"{what}: body {resp.text[:300]}"


# --- invariants of the tree -----------------------------------------------------------------------
async def all_names(w: World) -> list[tuple[str, tuple[str, ...]]]:
    """(space uuid, path) of every node below every space root."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for space in await w.storage.list_spaces():
        stack: list[tuple[Node, tuple[str, ...]]] = [(await w.storage.lookup(space.id, ()), ())]
        while stack:
            node, path = stack.pop()
            for child in await w.storage.children(node):
                stack.append((child, (*path, child.name)))
                out.append((space.id, (*path, child.name)))
    return out


async def original_intact(w: World) -> bool:
    try:
        node = await w.storage.lookup(w.einstein_id, ("sub", "f.txt"))
    except OcisError:
        return False
    blob = w.storage.blob_path(node)
    return not node.is_dir and await asyncio.to_thread(blob.read_bytes) == ORIGINAL


async def assert_untouched(w: World, what: str) -> None:
    """No node and no host file carries the attack marker; einstein's sub/f.txt is intact."""
    created = [(s, p) for s, p in await all_names(w) if any(MARKER in n for n in p)]
    assert not created, f"{what}: attack created {created}"
    files = await asyncio.to_thread(lambda: [p for p in w.tmp.rglob("*") if MARKER in p.name])
    assert not files, f"{what}: attack created host files {files}"
    assert await original_intact(w), f"{what}: sub/f.txt was changed, moved or deleted"


async def restore(w: World) -> None:
    """Undo whatever a failed attack did, so one defect does not cascade into other tests."""
    storage = w.storage
    keep = {(w.einstein_id, ("sub",)), (w.einstein_id, ("sub", "f.txt")),
            (w.marie_id, ("secret.txt",))}
    for space, path in sorted(await all_names(w), key=lambda sp: -len(sp[1])):
        mine = space in (w.einstein_id, w.marie_id)
        if any(MARKER in n for n in path) or (mine and (space, path) not in keep):
            with contextlib.suppress(OcisError):
                await storage.delete(space, path)
    for drive in await storage.list_spaces():
        if MARKER in drive.name and drive.type == "project":
            await storage.delete_space(drive.id)
        elif drive.id == w.einstein_id and (drive.name, drive.quota_total) != ("Albert Einstein", 0):
            await storage.update_space(drive.id, name="Albert Einstein", quota_total=0)
    if not await original_intact(w):
        with contextlib.suppress(OcisError):
            await storage.delete(w.einstein_id, ("sub",))
        await storage.mkdir(w.einstein_id, ("sub",))
        await _write(storage, w.einstein_id, ("sub", "f.txt"), ORIGINAL)


@pytest_asyncio.fixture(loop_scope="module")
async def clean(world: World) -> AsyncIterator[World]:
    yield world
    await restore(world)


# === 1. path attacks ==============================================================================
# (id, encoded path below the namespace root, reaches the DAV app). Raw NUL / control bytes are
# invalid in an HTTP request target (RFC 9112), so the HTTP layer may answer 400 itself.
ATTACKS: list[tuple[str, bytes, bool]] = [
    ("dotdot", b"sub/../evil-dd", True),
    ("dotdot-top", b"../evil-ddtop", True),
    ("dotdot-existing", b"sub/../sub/f.txt", True),
    ("pct2e2e", b"sub/%2e%2e/evil-de", True),
    ("pct2E2e", b"sub/%2E%2e/evil-dm", True),
    ("pct2e2e-existing", b"sub/%2e%2e/sub/f.txt", True),
    ("pct2e2e-top", b"%2e%2e/%2e%2e/evil-detop", True),
    ("dot", b"sub/./evil-dot", True),
    ("pct2f", b"sub%2fevil-sl", True),
    ("pct2F", b"sub%2Fevil-SL", True),
    ("pct2f-existing", b"sub%2ff.txt", True),
    ("double-slash", b"sub//evil-ds", True),
    ("pct00", b"evil-nul%00.txt", True),
    ("pct00-truncate", b"sub/f.txt%00evil", True),
    ("pct01", b"evil-c%01x", True),
    ("pct09", b"evil-c%09x", True),
    ("pct0a", b"evil-c%0ax", True),
    ("pct0d", b"evil-c%0dx", True),
    ("pct1f", b"evil-c%1fx", True),
    ("pct7f", b"evil-c%7fx", True),
    ("backslash", b"sub\\evil-bs", True),
    ("pct5c", b"sub%5cevil-bs", True),
    ("pct5C-dotdot", b"sub%5C..%5Cevil-bsdd", True),
    ("utf8-ff", b"evil-%ff", True),
    ("utf8-c328", b"evil-%c3%28", True),
    ("overlong-dot", b"sub/%c0%ae%c0%ae/evil-ol", True),
    ("long-256", b"evil-" + b"a" * 251, True),
    ("long-multibyte", b"evil-" + quote("é" * 126).encode(), True),   # 131 chars, 257 bytes
    ("raw-nul", b"evil-raw\x00nul", False),
    ("raw-ctl", b"evil-raw\x01ctl", False),
    ("raw-ff", b"evil-raw\xff", False),
]
# The legacy home runs in the quick suite; the same matrix on the other roots is marked slow.
NAMESPACES = ["webdav", *(pytest.param(ns, marks=pytest.mark.slow)
                          for ns in ("files", "spaces", "dav-spaces"))]
URL_METHODS = ["GET", "PUT", "PROPFIND", "MKCOL", "DELETE", "MOVE", "COPY"]


def ids(items: list[tuple[str, bytes, bool]]) -> list[str]:
    return [item[0] for item in items]


async def check_attack(w: World, resp: Raw, app_level: bool, what: str) -> None:
    if app_level:
        assert_dav_bad_request(w, resp, what)
    else:
        assert_clean(w, resp, what)
        assert resp.status == 400, f"{what}: expected 400, got {resp.status} {resp.text[:200]}"
    await assert_untouched(w, what)


@pytest.mark.parametrize("attack", ATTACKS, ids=ids(ATTACKS))
@pytest.mark.parametrize("method", URL_METHODS)
@pytest.mark.parametrize("ns", NAMESPACES)
async def test_path_attack_in_url(clean: World, ns: str, method: str,
                                  attack: tuple[str, bytes, bool]) -> None:
    w = clean
    _, suffix, app_level = attack
    root = w.namespaces[ns]
    target = root.encode() + b"/" + suffix
    headers: dict[str, str | bytes] = {}
    body = b""
    if method in ("MOVE", "COPY"):
        headers["Destination"] = f"{w.url}{root}/sub/copy-target.txt"
    if method == "PROPFIND":
        headers["Depth"] = "0"
    if method == "PUT":
        body = b"attack"
    resp = await request(w, method, target, headers, body)
    await check_attack(w, resp, app_level, f"{method} {target!r}")
    if method in ("MOVE", "COPY"):
        names = [p for s, p in await all_names(w) if p and p[-1] == "copy-target.txt"]
        assert not names, f"{method} {target!r}: created {names}"


@pytest.mark.parametrize("attack", ATTACKS, ids=ids(ATTACKS))
@pytest.mark.parametrize("method", ["MOVE", "COPY"])
@pytest.mark.parametrize("ns", NAMESPACES)
async def test_path_attack_in_destination(clean: World, ns: str, method: str,
                                          attack: tuple[str, bytes, bool]) -> None:
    w = clean
    _, suffix, app_level = attack
    root = w.namespaces[ns]
    source = f"{root}/sub/f.txt"
    destination = f"{w.url}{root}/".encode() + suffix
    resp = await request(w, method, source, {"Destination": destination, "Overwrite": "T"})
    await check_attack(w, resp, app_level, f"{method} {source} Destination: {destination!r}")


async def test_every_control_character_is_refused(clean: World) -> None:
    w = clean
    failures = []
    for code in [*range(1, 0x20), 0x7F]:
        target = f"/remote.php/webdav/evil-ctl%{code:02x}x".encode()
        resp = await request(w, "PUT", target, body=b"x")
        if resp.status != 400 or BAD_REQUEST not in resp.text:
            failures.append((target, resp.status, resp.text[:120]))
        assert_clean(w, resp, f"PUT {target!r}")
    assert not failures, failures
    await assert_untouched(w, "PUT with control characters")


async def test_name_of_255_bytes_is_accepted_256_refused(clean: World) -> None:
    """The limit counts bytes: 255 bytes (multibyte) is fine, 256 is not (security-notes.md §1)."""
    w = clean
    ok = "ok" + "é" * 126 + "x"                   # 2 + 252 + 1 = 255 bytes
    assert len(ok.encode()) == 255
    resp = await request(w, "PUT", f"/remote.php/webdav/{quote(ok)}", body=b"x")
    assert resp.status == 201, resp.text
    resp = await request(w, "DELETE", f"/remote.php/webdav/{quote(ok)}")
    assert resp.status == 204, resp.text


# === 2. destinations on other hosts and in other users' spaces =====================================
@pytest.mark.parametrize("method", ["MOVE", "COPY"])
@pytest.mark.parametrize("destination", [
    "http://example.org/remote.php/webdav/evil-elsewhere",
    "https://127.0.0.2:1/remote.php/webdav/evil-elsewhere",
    "ftp://{host}/remote.php/webdav/evil-elsewhere",
    "http://{hostname}:1/remote.php/webdav/evil-elsewhere",        # same host, another port
    "http://einstein@example.org/remote.php/webdav/evil-elsewhere",
])
async def test_destination_on_another_host_is_502(clean: World, method: str, destination: str) -> None:
    w = clean
    dest = destination.format(host=f"{w.host}:{w.port}", hostname=w.host)
    resp = await request(w, method, "/remote.php/webdav/sub/f.txt", {"Destination": dest})
    assert_clean(w, resp, f"{method} -> {dest}", allowed=(502,))
    assert resp.status == 502, f"{method} Destination {dest}: {resp.status} {resp.text[:200]}"
    await assert_untouched(w, f"{method} -> {dest}")


def marie_destinations(w: World) -> list[str]:
    marie_space = quote(w.space(w.marie_id), safe="$")
    return [f"{w.url}/remote.php/dav/files/marie/evil-stolen.txt",
            f"{w.url}/remote.php/dav/spaces/{marie_space}/evil-stolen.txt",
            f"{w.url}/dav/spaces/{marie_space}/evil-stolen.txt",
            f"{w.url}/dav/spaces/{quote(w.marie_node, safe='$!')}/evil-stolen.txt",
            f"/remote.php/dav/spaces/{marie_space}/evil-stolen.txt",
            f"{w.url}/remote.php/dav/spaces/{marie_space}/secret.txt"]


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("method", ["MOVE", "COPY"])
async def test_destination_in_another_users_space_is_refused(clean: World, method: str,
                                                            index: int) -> None:
    w = clean
    dest = marie_destinations(w)[index]
    resp = await request(w, method, "/remote.php/webdav/sub/f.txt",
                         {"Destination": dest, "Overwrite": "T"})
    assert_clean(w, resp, f"{method} -> {dest}")
    assert resp.status in (403, 404), f"{method} Destination {dest}: {resp.status} {resp.text[:200]}"
    await assert_untouched(w, f"{method} -> {dest}")
    secret = await w.storage.lookup(w.marie_id, ("secret.txt",))
    assert secret.size == len(b"marie's secret")


# === 3. other users' spaces =======================================================================
def marie_urls(w: World) -> list[str]:
    marie_space = quote(w.space(w.marie_id), safe="$")
    node = quote(w.marie_node, safe="$!")
    return [f"/remote.php/dav/spaces/{marie_space}/secret.txt",
            f"/dav/spaces/{marie_space}/secret.txt",
            f"/remote.php/dav/spaces/{w.marie_id}/secret.txt",         # bare space uuid
            "/remote.php/dav/files/marie/secret.txt",
            "/dav/files/marie/secret.txt",
            f"/remote.php/dav/files/{w.marie_id}/secret.txt",          # user id instead of name
            f"/remote.php/dav/spaces/{node}",
            f"/dav/spaces/{node}",
            f"/remote.php/dav/spaces/{quote(w.marie_node)}"]          # %24 / %21 spelled out


@pytest.mark.parametrize("method", ["GET", "PUT", "PROPFIND", "DELETE", "PROPPATCH", "LOCK", "MKCOL"])
@pytest.mark.parametrize("index", range(9))
async def test_einstein_cannot_touch_maries_space(clean: World, index: int, method: str) -> None:
    w = clean
    url = marie_urls(w)[index]
    body = b""
    if method == "PUT":
        body = b"overwritten by einstein"
    if method == "PROPPATCH":
        body = (b'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
                b'<x:evil xmlns:x="urn:x">1</x:evil></d:prop></d:set></d:propertyupdate>')
    if method == "LOCK":
        body = (b'<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
                b'</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>')
    target = url.rstrip("/") + ("-dir" if method == "MKCOL" else "")
    resp = await request(w, method, target, {"Depth": "0"} if method == "PROPFIND" else {}, body)
    assert_clean(w, resp, f"{method} {target}")
    assert resp.status == 404, f"einstein {method} {target}: {resp.status} {resp.text[:200]}"
    assert b"marie's secret" not in resp.body, resp.text[:300]
    node = await w.storage.lookup(w.marie_id, ("secret.txt",))
    assert node.size == len(b"marie's secret")
    names = [p for s, p in await all_names(w) if s == w.marie_id]
    assert names == [("secret.txt",)], names


async def test_einstein_cannot_list_maries_space(clean: World) -> None:
    w = clean
    marie_space = quote(w.space(w.marie_id), safe="$")
    for url in (f"/remote.php/dav/spaces/{marie_space}/", f"/dav/spaces/{marie_space}",
                "/remote.php/dav/files/marie/", f"/remote.php/dav/spaces/{marie_space}/%2e"):
        resp = await request(w, "PROPFIND", url, {"Depth": "1"})
        assert_clean(w, resp, f"PROPFIND {url}")
        assert resp.status in (400, 404), f"PROPFIND {url}: {resp.status}"
        assert "secret" not in resp.text


async def test_graph_drive_of_another_user_is_404(world: World) -> None:
    w = world
    drive = w.space(w.marie_id)
    for path in (f"/graph/v1.0/drives/{quote(drive, safe='$')}", f"/graph/v1beta1/drives/{drive}"):
        for method, body in (("GET", b""), ("PATCH", b'{"name": "evil"}'), ("DELETE", b"")):
            resp = await request(w, method, path, {"Content-Type": "application/json"}, body)
            assert_clean(w, resp, f"{method} {path}")
            assert resp.status == 404, f"einstein {method} {path}: {resp.status} {resp.text[:200]}"
            assert json.loads(resp.body)["error"]["code"] == "itemNotFound"
    space = await w.storage.get_space(w.marie_id)
    assert space.name == "Marie Curie" and not space.disabled


# === 4. XML bodies ==================================================================================
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY e "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>
<d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&g;</d:displayname></d:prop></d:propfind>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><x:p xmlns:x="urn:x">&xxe;</x:p></d:prop></d:set>
</d:propertyupdate>"""
XXE_LOCK = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/>
</d:locktype><d:owner>&xxe;</d:owner></d:lockinfo>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]><d:propfind xmlns:d="DAV:"/>"""
DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:1/evil.dtd">
<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>"""
DEEP = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop>' + b"<x>" * 10_000 + \
    b"</x>" * 10_000 + b"</d:prop></d:propfind>"
INVALID = [b"<d:propfind xmlns:d='DAV:'><d:prop>", b"not xml at all", b"<a></b>",
           b"\xff\xfe<\x00a\x00", b'<?xml version="1.0" encoding="klingon"?><a/>',
           b"<d:propfind xmlns:d='DAV:'>\x00</d:propfind>", b"<x:a xmlns:x=''/>"]
XML_BODIES = [("billion-laughs", BILLION_LAUGHS), ("xxe", XXE), ("xxe-lock", XXE_LOCK),
              ("parameter-entity", PARAMETER_ENTITY), ("external-dtd", DTD_ONLY),
              ("depth-10000", DEEP)] + [(f"invalid-{i}", body) for i, body in enumerate(INVALID)]


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
@pytest.mark.parametrize("case", XML_BODIES, ids=[c[0] for c in XML_BODIES])
async def test_hostile_xml_is_400(clean: World, method: str, case: tuple[str, bytes]) -> None:
    w = clean
    name, body = case
    headers = {"Content-Type": "application/xml", "Depth": "0"}
    resp = await request(w, method, "/remote.php/webdav/sub/f.txt", headers, body)
    assert_dav_bad_request(w, resp, f"{method} with {name} body")
    assert "root:" not in resp.text
    props = await w.storage.get_props(
        (await w.storage.lookup(w.einstein_id, ("sub", "f.txt"))).id)
    assert not any("root:" in v for v in props.values()), props
    locks = await w.storage.locks_covering(w.einstein_id, ("sub", "f.txt"))
    assert not locks, f"{method} with {name} body left a lock"


PROPFIND_SHAPES = {
    "allprop-and-prop": b"<d:prop><d:getetag/></d:prop><d:allprop/>",
    "propname-and-prop": b"<d:propname/><d:prop><d:getetag/></d:prop>",
    "include-without-allprop": b"<d:include><d:getetag/></d:include>",
    "allprop-and-propname": b"<d:allprop/><d:propname/>",
}


@pytest.mark.parametrize("shape", PROPFIND_SHAPES)
async def test_malformed_propfind_shapes_are_400(world: World, shape: str) -> None:
    """reva ReadPropfind (security-notes.md §4): contradictory PROPFIND bodies are refused."""
    body = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:">' + PROPFIND_SHAPES[shape] + \
        b"</d:propfind>"
    resp = await request(world, "PROPFIND", "/remote.php/webdav/sub/f.txt", {"Depth": "0"}, body)
    assert_dav_bad_request(world, resp, f"PROPFIND {shape}")


async def test_allprop_with_include_stays_legal(world: World) -> None:
    """RFC 4918 §14.8: `<d:allprop/><d:include>` is the one legal combination."""
    body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
            b"<d:allprop/><d:include><oc:fileid/></d:include></d:propfind>")
    resp = await request(world, "PROPFIND", "/remote.php/webdav/sub/f.txt", {"Depth": "0"}, body)
    assert_clean(world, resp, "PROPFIND allprop+include")
    assert resp.status == 207, f"{resp.status} {resp.text[:200]}"
    assert "getetag" in resp.text


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
async def test_announced_body_over_1mib_is_413_before_the_body_is_sent(world: World,
                                                                       method: str) -> None:
    w = world
    head = build_request(w, method, b"/remote.php/webdav/sub/f.txt",
                         {"Content-Length": str((1 << 20) + 1), "Content-Type": "application/xml"})
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(head)                   # headers only: the body never comes
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5.0)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), f"{method}: {status_line!r}"


async def test_chunked_body_over_1mib_is_413(world: World) -> None:
    w = world
    chunk = b"<a>" + b" " * (256 * 1024) + b"</a>"
    head = build_request(w, "PROPFIND", b"/remote.php/webdav/", {"Transfer-Encoding": "chunked",
                                                                 "Depth": "0"})
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(head)
        for _ in range(5):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5.0)
    except ConnectionResetError:
        status_line = b"reset"
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line


# === 5. authentication ==============================================================================
AUTH_URLS = ["/remote.php/webdav/", "/remote.php/dav/files/einstein/", "/dav/spaces/x",
             "/ocs/v1.php/cloud/user", "/ocs/v2.php/cloud/user", "/graph/v1.0/me",
             "/graph/v1.0/me/drives"]
BAD_AUTH: list[tuple[str, bytes]] = [
    ("wrong-password", basic("einstein", "wrong").encode()),
    ("unknown-user", basic("nobody", "relativity").encode()),
    ("empty-password", basic("einstein", "").encode()),
    ("not-base64", b"Basic !!!not-base64!!!"),
    ("no-colon", b"Basic " + base64.b64encode(b"einstein")),
    ("empty-user", b"Basic " + base64.b64encode(b":relativity")),
    ("empty-token", b"Basic "),
    ("basic-alone", b"Basic"),
    ("padding-broken", b"Basic ZWluc3RlaW46cmVsYXRpdml0eQ"),
    ("10kb", b"Basic " + base64.b64encode(b"einstein:" + b"x" * 7000)),
    ("non-ascii-value", "Basic ünïcödé".encode()),
    ("non-ascii-credentials", b"Basic " + base64.b64encode("einstein:relativit\u00e9".encode())),
    ("latin1-garbage", b"Basic " + base64.b64encode(b"\xff\xfe:\xff")),
    ("nul-in-credentials", b"Basic " + base64.b64encode(b"einstein\x00:relativity")),
    ("unknown-scheme", b"Digest username=einstein"),
    ("bearer-garbage", b"Bearer not.a.jwt"),
    ("whitespace", b"   "),
    ("double-basic", b"Basic Basic " + base64.b64encode(b"einstein:relativity")),
]


@pytest.mark.parametrize("case", BAD_AUTH, ids=[c[0] for c in BAD_AUTH])
@pytest.mark.parametrize("url", AUTH_URLS)
async def test_bad_credentials_are_401(world: World, url: str, case: tuple[str, bytes]) -> None:
    w = world
    name, value = case
    method = "PROPFIND" if "/dav" in url or "webdav" in url else "GET"
    resp = await request(w, method, url, {"Authorization": value, "Depth": "0"}, auth=None)
    assert_clean(w, resp, f"{method} {url} with {name}")
    token = value.partition(b" ")[2].strip()
    if len(token) >= 16:              # credentials are never reflected in a response
        assert token[:16] not in resp.body, f"{method} {url} with {name}: echoes the credentials: " \
            f"{resp.text[:200]}"
    if name == "10kb" and resp.status in (400, 431):
        pass                          # over PROXY_MAX_HEADER_SIZE: refused by the HTTP layer
    else:
        assert resp.status == 401, f"{method} {url} with {name}: {resp.status} {resp.text[:200]}"
    if resp.status == 401:
        assert resp.headers.get("www-authenticate"), f"{url} {name}: no WWW-Authenticate"
        if url.startswith("/ocs"):
            assert "<statuscode>997</statuscode>" in resp.text, resp.text[:300]
        elif url.startswith("/graph"):
            assert json.loads(resp.body)["error"]["code"] == "unauthenticated"
        else:
            assert "<d:error" in resp.text and "NotAuthenticated" in resp.text, resp.text[:300]


async def test_no_credentials_are_401_everywhere(world: World) -> None:
    w = world
    for url in AUTH_URLS:
        resp = await request(w, "GET", url, auth=None)
        assert resp.status == 401 and resp.headers.get("www-authenticate"), (url, resp.status)


async def test_good_credentials_still_work_after_the_barrage(world: World) -> None:
    """No lockout of the real user by someone else's garbage, no state broken by it."""
    resp = await request(world, "PROPFIND", "/remote.php/webdav/", {"Depth": "0"})
    assert resp.status == 207


# === 6. Depth ===================================================================================
@pytest.mark.parametrize("depth", ["infinity", "Infinity", "2", "abc", "-1", "1 ", "0,1", "", "1.0"])
async def test_bad_propfind_depth_is_400(world: World, depth: str) -> None:
    w = world
    resp = await request(w, "PROPFIND", "/remote.php/webdav/", {"Depth": depth})
    assert_clean(w, resp, f"PROPFIND Depth {depth!r}")
    if depth == "1 ":   # trailing whitespace is stripped by the HTTP layer: a valid Depth 1
        assert resp.status == 207
        return
    if depth == "":     # an empty header is the same as none: Depth 1 (reva)
        assert resp.status in (207, 400)
        return
    assert_dav_bad_request(w, resp, f"PROPFIND Depth {depth!r}")


@pytest.mark.parametrize("method,depth", [("COPY", "1"), ("COPY", "2"), ("COPY", "abc"),
                                          ("MOVE", "0"), ("MOVE", "1"), ("LOCK", "1"),
                                          ("LOCK", "abc")])
async def test_bad_depth_on_copy_move_lock_is_400(clean: World, method: str, depth: str) -> None:
    w = clean
    headers = {"Depth": depth, "Destination": f"{w.url}/remote.php/webdav/evil-depth"}
    body = b""
    if method == "LOCK":
        body = (b'<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
                b'</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>')
    resp = await request(w, method, "/remote.php/webdav/sub", headers, body)
    assert_dav_bad_request(w, resp, f"{method} Depth {depth}")
    await assert_untouched(w, f"{method} Depth {depth}")


# === 7. malformed HTTP and slowloris =============================================================
MALFORMED: list[tuple[str, bytes]] = [
    ("garbage-line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),
    ("no-version", b"GET /remote.php/webdav/\r\n\r\n"),
    ("bad-version", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("bad-method", b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header-no-colon", b"GET /status.php HTTP/1.1\r\nHost: x\r\nthis header has no colon\r\n\r\n"),
    ("header-space-before-colon", b"GET /status.php HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("header-100kb", b"GET /status.php HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"),
    ("request-line-100kb", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("1000-headers", b"GET /status.php HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n"),
    ("bad-content-length",
     b"PUT /remote.php/webdav/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("negative-content-length", b"PUT /remote.php/webdav/x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    ("two-content-lengths", (b"PUT /remote.php/webdav/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                             b"Content-Length: 2\r\n\r\nab")),
    ("cl-and-chunked", (b"PUT /remote.php/webdav/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")),
    ("bad-chunk-size", (b"PUT /remote.php/webdav/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                        b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")),
    ("nul-in-header", b"GET /status.php HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("bare-lf-header-injection", b"GET /status.php HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
async def test_malformed_http_is_refused_and_the_server_keeps_serving(world: World,
                                                                      case: tuple[str, bytes]) -> None:
    w = world
    name, data = case
    resp = await send_raw(w, data, timeout=HEADER_TIMEOUT + 5)
    assert_clean(w, resp, name)
    allowed = (None, 400, 404, 413, 414, 431, 501, 505) + ((401,) if name == "no-version" else ())
    assert resp.status in allowed, f"{name}: {resp.status} {resp.text[:200]}"
    if name in ("header-no-colon", "header-100kb", "request-line-100kb", "1000-headers",
                "nul-in-header", "two-content-lengths", "cl-and-chunked", "bad-content-length"):
        assert resp.status in (None, 400, 413, 414, 431), f"{name}: {resp.status}"
    ok = await request(w, "GET", "/status.php", auth=None)
    assert ok.status == 200, f"after {name}: {ok.status}"


async def _closed_within(reader: asyncio.StreamReader, limit: float) -> tuple[bool, float, bytes]:
    start = time.monotonic()
    try:
        data = await asyncio.wait_for(reader.read(), limit)
        return True, time.monotonic() - start, data
    except TimeoutError:
        return False, time.monotonic() - start, b""
    except ConnectionResetError:
        return True, time.monotonic() - start, b""


async def test_slowloris_partial_header_is_closed_within_the_header_timeout(world: World) -> None:
    w = world
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(b"GET /status.php HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
        closed, after, _ = await _closed_within(reader, HEADER_TIMEOUT + 2.0)
    finally:
        writer.close()
    assert closed, f"partial header still open after {after:.1f}s (header timeout {HEADER_TIMEOUT}s)"


async def test_slowloris_trickle_is_closed_within_the_header_timeout(world: World) -> None:
    """One byte every 0.2 s: each byte arrives in time, the headers never finish."""
    w = world
    reader, writer = await asyncio.open_connection(w.host, w.port)
    start = time.monotonic()
    closed = False
    try:
        for byte in b"GET /status.php HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            if reader.at_eof():
                closed = True
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            if time.monotonic() - start > HEADER_TIMEOUT + 2.0:
                break
            await asyncio.sleep(0.2)
        if not closed:
            closed, _, _ = await _closed_within(reader, 0.5)
    finally:
        writer.close()
    assert closed, f"trickling connection still open after {time.monotonic() - start:.1f}s"


async def test_slowloris_on_a_kept_alive_connection_is_closed(world: World) -> None:
    """After one complete request, a second request's headers never finish: the header timeout
    must guard it too (else one quick request buys a slowloris the whole idle timeout)."""
    w = world
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(b"GET /status.php HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5.0)
        assert status_line.startswith(b"HTTP/1.1 200"), status_line
        # drain the first response (Content-Length framed)
        length = 0
        while (line := await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.write(b"GET /status.php HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
        closed, after, _ = await _closed_within(reader, HEADER_TIMEOUT + 1.0)
    finally:
        writer.close()
    assert closed, f"second request's partial header still open after {after:.1f}s"


async def test_body_slowloris_on_xml_is_cut_off(world: World) -> None:
    """A PROPFIND announcing a small body that never arrives must not hold the connection
    forever (the idle timeout at the latest)."""
    w = world
    head = build_request(w, "PROPFIND", b"/remote.php/webdav/", {"Content-Length": "100",
                                                                 "Depth": "0"})
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(head + b"<d:propfind")
        await writer.drain()
        closed, after, data = await _closed_within(reader, IDLE_TIMEOUT + 1.0)
    finally:
        writer.close()
    assert closed, f"PROPFIND with a body that never completes still open after {after:.1f}s"
    assert b"Traceback" not in data


@pytest.mark.slow
async def test_slow_but_progressing_body_is_not_cut_off(world: World) -> None:
    """The body deadline is per pause between chunks, not for the whole body: an upload that
    trickles in for longer than the idle timeout in total still succeeds."""
    w = world
    chunks = [b"x" * 10] * 5
    head = build_request(w, "PUT", b"/remote.php/webdav/trickle.txt",
                         {"Content-Length": str(sum(map(len, chunks)))})
    reader, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(head)
        for chunk in chunks:                       # 5 pauses of IDLE_TIMEOUT/3: > IDLE_TIMEOUT
            await asyncio.sleep(IDLE_TIMEOUT / 3)
            writer.write(chunk)
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5.0)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 201"), status_line
    await w.storage.delete(w.einstein_id, ("trickle.txt",))


# === 7b. garbage in the headers the DAV verbs read ===============================================
GARBAGE_HEADERS: list[tuple[str, str, dict[str, str | bytes]]] = [
    ("PUT", "hdr.txt", {"X-OC-Mtime": "abc"}),
    ("PUT", "hdr.txt", {"X-OC-Mtime": "nan"}),
    ("PUT", "hdr.txt", {"X-OC-Mtime": "inf"}),
    ("PUT", "hdr.txt", {"X-OC-Mtime": "1e400"}),
    ("PUT", "hdr.txt", {"X-OC-Mtime": "9" * 400}),
    ("PUT", "hdr.txt", {"X-OC-Mtime": "-99999999999999999999"}),
    ("PUT", "hdr.txt", {"OC-Checksum": "garbage"}),
    ("PUT", "hdr.txt", {"OC-Checksum": "SHA1:zz"}),
    ("PUT", "hdr.txt", {"OC-Checksum": "NOPE:1234"}),
    ("PUT", "hdr.txt", {"If-Match": b"\xff\xfe"}),
    ("PUT", "hdr.txt", {"If": b"(<\xff>)"}),
    ("PUT", "hdr.txt", {"If": "((((((("}),
    ("PUT", "hdr.txt", {"Content-Range": "bytes 0-1/2"}),
    ("PUT", "hdr.txt", {"X-Expected-Entity-Length": "abc"}),
    ("GET", "sub/f.txt", {"Range": "bytes=abc"}),
    ("GET", "sub/f.txt", {"Range": "bytes=5-1"}),
    ("GET", "sub/f.txt", {"Range": "bytes=999999999999999999999-"}),
    ("GET", "sub/f.txt", {"Range": "bytes=-0"}),
    ("GET", "sub/f.txt", {"Range": "bytes=" + ",".join(["0-0"] * 2000)}),
    ("GET", "sub/f.txt", {"If-Modified-Since": "not a date"}),
    ("MOVE", "sub/f.txt", {"Overwrite": "X", "Destination": "/remote.php/webdav/hdr.txt"}),
    ("COPY", "sub/f.txt", {"Overwrite": b"\xff", "Destination": "/remote.php/webdav/hdr.txt"}),
    ("COPY", "sub/f.txt", {"Destination": ""}),
    ("COPY", "sub/f.txt", {"Destination": "relative/path"}),
    ("COPY", "sub/f.txt", {"Destination": "http://[::1"}),
    ("COPY", "sub/f.txt", {"Destination": "http://127.0.0.1:99999/x"}),
    ("COPY", "sub/f.txt", {"Destination": "/dav/spaces/\u00ff/x".encode("latin-1")}),
    ("LOCK", "sub/f.txt", {"Timeout": "Second-abc"}),
    ("LOCK", "sub/f.txt", {"Timeout": "Second-" + "9" * 400}),
    ("LOCK", "sub/f.txt", {"Timeout": "Second--5"}),
    ("LOCK", "sub/f.txt", {"If": "(<opaquelocktoken:nope>)"}),
    ("UNLOCK", "sub/f.txt", {"Lock-Token": "garbage"}),
    ("UNLOCK", "sub/f.txt", {"Lock-Token": b"<\xff>"}),
    ("UNLOCK", "sub/f.txt", {}),
    ("PROPPATCH", "sub/f.txt", {"Content-Type": "text/plain"}),
]
def garbage_id(method: str, headers: Mapping[str, str | bytes]) -> str:
    parts = [f"{k}={(v if isinstance(v, str) else v.decode('latin-1'))[:20]}" for k, v in headers.items()]
    return "-".join([method, *parts]) if parts else f"{method}-no-headers"


LOCK_BODY = (b'<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
             b"</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>")


@pytest.mark.parametrize("index", range(len(GARBAGE_HEADERS)),
                         ids=[garbage_id(m, h) for m, _, h in GARBAGE_HEADERS])
async def test_garbage_in_dav_headers_is_never_a_500(clean: World, index: int) -> None:
    w = clean
    method, path, headers = GARBAGE_HEADERS[index]
    body = {"PUT": b"hello", "LOCK": LOCK_BODY, "PROPPATCH": b"x"}.get(method, b"")
    what = f"{method} /remote.php/webdav/{path} {headers!r}"
    resp = await request(w, method, f"/remote.php/webdav/{path}", headers, body)
    destination = headers.get("Destination", b"")
    foreign = isinstance(destination, str) and destination.startswith("http")
    assert_clean(w, resp, what, allowed=(502,) if foreign else ())
    assert resp.status is not None, f"{what}: connection closed without an answer"
    await assert_untouched(w, what)
    listing = await request(w, "PROPFIND", "/remote.php/webdav/", {"Depth": "1"})
    assert listing.status == 207, f"after {what}: PROPFIND Depth 1 of the home: {listing.status}"


@pytest.mark.parametrize("mtime", [float("inf"), -1e30, 1e300])
async def test_stored_absurd_mtime_is_rendered_clamped(clean: World, mtime: float) -> None:
    """A row with an absurd mtime (written before validation existed, or by another path)
    still lists, downloads and answers conditional GETs."""
    w = clean
    async def body() -> AsyncIterator[bytes]:
        yield b"x"
    await w.storage.upload(w.einstein_id, ("mtime.txt",), body(), length=1, mtime=mtime)
    try:
        for method, url, headers in (
                ("PROPFIND", "/remote.php/webdav/", {"Depth": "1"}),
                ("GET", "/remote.php/webdav/mtime.txt", {}),
                ("GET", "/remote.php/webdav/mtime.txt",
                 {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})):
            resp = await request(w, method, url, headers)
            assert_clean(w, resp, f"{method} {url} with a stored mtime of {mtime}")
            assert resp.status in (200, 207, 304), f"{method} {url}: {resp.status}"
            assert not resp.broken, f"{method} {url}: the body broke off"
    finally:
        await w.storage.delete(w.einstein_id, ("mtime.txt",))


@pytest.mark.parametrize("mtime", ["inf", "1e400", "-99999999999999999999", "nan"])
async def test_bad_mtime_never_breaks_the_listing(clean: World, mtime: str) -> None:
    """Whatever a PUT with an absurd X-OC-Mtime answers, the folder stays listable afterwards."""
    w = clean
    await request(w, "PUT", "/remote.php/webdav/mtime.txt", {"X-OC-Mtime": mtime}, b"x")
    for method, url, depth in (("PROPFIND", "/remote.php/webdav/", "1"),
                               ("PROPFIND", "/remote.php/webdav/mtime.txt", "0"),
                               ("GET", "/remote.php/webdav/mtime.txt", "0")):
        resp = await request(w, method, url, {"Depth": depth})
        assert_clean(w, resp, f"{method} {url} after PUT X-OC-Mtime: {mtime}")
        assert resp.status in (200, 207, 404), f"{method} {url}: {resp.status}"


# === 8. ids =====================================================================================
BAD_IDS = ["garbage", "%24", "$", "a$b$c", "a$b!c!d", "!", "a!b", "%24%24", "..", "%2e%2e",
           "a%2fb", "a%00b", "%ff", "a%5cb", "x" * 2000, "a$", "$b", "a$b!"]


@pytest.mark.parametrize("prefix", ["/dav/spaces/", "/remote.php/dav/spaces/"])
@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_space_ids_are_400_or_404(world: World, prefix: str, bad: str) -> None:
    w = world
    for method in ("PROPFIND", "GET", "PUT"):
        resp = await request(w, method, f"{prefix}{bad}/evil-id.txt",
                             {"Depth": "0"}, b"x" if method == "PUT" else b"")
        assert_clean(w, resp, f"{method} {prefix}{bad}")
        assert resp.status in (400, 404), f"{method} {prefix}{bad}/evil-id.txt: {resp.status} {resp.text[:200]}"
        assert "<d:error" in resp.text, resp.text[:200]
    resp = await request(w, "PROPFIND", f"{prefix}{bad}", {"Depth": "0"})
    assert resp.status in (400, 404), f"PROPFIND {prefix}{bad}: {resp.status}"
    await assert_untouched(w, f"ids {prefix}{bad}")


async def test_files_namespace_of_unknown_or_odd_user_is_404(world: World) -> None:
    w = world
    for user in ("nobody", "%2e%2e", "einstein%00", "EINSTEIN", "einstein%2f..", "%ff", ""):
        url = f"/remote.php/dav/files/{user}/sub/f.txt"
        resp = await request(w, "GET", url)
        assert_clean(w, resp, f"GET {url}")
        assert resp.status in (400, 404), f"GET {url}: {resp.status} {resp.text[:200]}"


# === 9. OCS and Graph input ======================================================================
@pytest.mark.parametrize("path", ["/ocs/v2.php/nope", "/ocs/v2.php/cloud/nope", "/ocs/nope",
                                  "/ocs/v2.php/cloud/users/nobody", "/ocs/v2.php/cloud/users/%00",
                                  "/ocs/v2.php/cloud/users/%ff", "/ocs/v2.php/apps/files_sharing/api/v1/nope"])
async def test_unknown_ocs_paths_are_404_envelopes(world: World, path: str) -> None:
    w = world
    resp = await request(w, "GET", path + "?format=json")
    assert_clean(w, resp, f"GET {path}")
    assert resp.status == 404, f"GET {path}: {resp.status} {resp.text[:200]}"
    meta = json.loads(resp.body)["ocs"]["meta"]
    assert meta["status"] == "failure" and meta["statuscode"] == 998, meta
    resp = await request(w, "GET", path.replace("v2.php", "v1.php"))
    assert_clean(w, resp, f"GET v1 {path}")
    assert resp.status in (200, 404) and "<statuscode>998</statuscode>" in resp.text, resp.text[:300]


@pytest.mark.parametrize("path", ["/graph/v1.0/nope", "/graph/nope", "/graph/v1.0/drives/x/y/z",
                                  "/graph/v1.0/me/nope", "/graph/v2.0/me", "/graph/v1.0/drives/%00",
                                  "/graph/v1.0/drives/%ff", "/graph/v1.0/drives/a$b$c",
                                  "/graph/v1.0/drives/" + "x" * 3000])
async def test_unknown_graph_paths_are_404_odata_errors(world: World, path: str) -> None:
    w = world
    resp = await request(w, "GET", path)
    assert_clean(w, resp, f"GET {path}")
    assert resp.status in (400, 404), f"GET {path}: {resp.status} {resp.text[:200]}"
    error = json.loads(resp.body)["error"]
    assert error["code"] in ("itemNotFound", "invalidRequest") and error["message"], error


GRAPH_BODIES: list[tuple[str, bytes, tuple[int, ...]]] = [
    ("invalid-json", b'{"name": ', (400,)),
    ("not-an-object", b'["name"]', (400,)),
    ("string", b'"x"', (400,)),
    ("nan", b'{"name": "x", "quota": {"total": NaN}}', (400,)),
    ("quota-abc", b'{"name": "evil-q", "quota": {"total": "abc"}}', (400,)),
    ("quota-negative", b'{"name": "evil-q", "quota": {"total": -1}}', (400,)),
    ("quota-float", b'{"name": "evil-q", "quota": {"total": 1.5}}', (400,)),
    ("quota-bool", b'{"name": "evil-q", "quota": {"total": true}}', (400,)),
    ("quota-huge", b'{"name": "evil-q", "quota": {"total": 1e400}}', (400,)),
    ("quota-bigint", b'{"name": "evil-q", "quota": {"total": ' + b"9" * 5000 + b"}}", (400,)),
    ("quota-list", b'{"name": "evil-q", "quota": ["abc"]}', (400,)),
    ("name-1000", json.dumps({"name": "evil" + "n" * 996}).encode(), (400,)),
    ("name-int", b'{"name": 5}', (400,)),
    ("name-null", b'{"name": null}', (400,)),
    ("name-object", b'{"name": {"a": 1}}', (400,)),
    ("name-slash", b'{"name": "evil/../x"}', (400,)),
    ("name-nul", b'{"name": "evil\\u0000x"}', (400,)),
    ("name-lone-surrogate", b'{"name": "evil\\ud800"}', (400,)),
    ("description-int", b'{"name": "evil-d", "description": 5}', (400,)),
    ("drive-type", b'{"name": "evil-t", "driveType": "personal"}', (400,)),
    ("invalid-utf8", b'{"name": "evil\xff"}', (400,)),
    ("deep-json", b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", (400,)),
    ("2mb", json.dumps({"name": "evil-big", "description": "d" * (2 << 20)}).encode(), (400, 413)),
    ("2mb-garbage", b"x" * (2 << 20), (400, 413)),
]


@pytest.mark.parametrize("case", GRAPH_BODIES, ids=[c[0] for c in GRAPH_BODIES])
async def test_bad_create_drive_bodies_are_4xx(clean: World, case: tuple[str, bytes, tuple[int, ...]]) -> None:
    w = clean
    name, body, expected = case
    resp = await request(w, "POST", "/graph/v1.0/drives", {"Content-Type": "application/json"},
                         body, auth=ADMIN)
    assert_clean(w, resp, f"POST /graph/v1.0/drives {name}")
    assert resp.status in expected, f"POST /graph/v1.0/drives ({name}): {resp.status} {resp.text[:200]}"
    if resp.body:
        assert json.loads(resp.body)["error"]["code"], resp.text[:200]
    spaces = [s.name for s in await w.storage.list_spaces() if MARKER in s.name]
    assert not spaces, f"{name} created {spaces}"


async def test_bad_patch_drive_bodies_are_4xx(clean: World) -> None:
    w = clean
    drive = quote(w.space(w.einstein_id), safe="$")
    failures = []
    for name, body, expected in GRAPH_BODIES:
        if name == "drive-type":
            continue
        resp = await request(w, "PATCH", f"/graph/v1.0/drives/{drive}",
                             {"Content-Type": "application/json"}, body, auth=ADMIN)
        try:
            assert_clean(w, resp, f"PATCH drive ({name})")
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:200])
            continue
        if resp.status not in expected + (403,):
            failures.append(f"PATCH drive ({name}): {resp.status} {resp.text[:120]}")
    assert not failures, "\n".join(failures)
    space = await w.storage.get_space(w.einstein_id)
    assert MARKER not in space.name and space.quota_total == 0, space


async def test_graph_create_as_plain_user_is_403_not_500(world: World) -> None:
    w = world
    resp = await request(w, "POST", "/graph/v1.0/drives", {"Content-Type": "application/json"},
                         b'{"name": "evil-user"}')
    assert_clean(w, resp, "einstein POST drive")
    assert resp.status == 403, resp.text[:200]


async def test_unusual_methods_are_clean(world: World) -> None:
    w = world
    for method, url in (("TRACE", "/remote.php/webdav/"), ("BREW", "/remote.php/webdav/"),
                        ("SEARCH", "/remote.php/dav/files/einstein/"), ("PATCH", "/ocs/v2.php/cloud/user"),
                        ("DELETE", "/graph/v1.0/me"), ("PUT", "/status.php")):
        resp = await request(w, method, url, body=b"x")
        assert_clean(w, resp, f"{method} {url}")
        assert resp.status is not None and 400 <= resp.status < 500, f"{method} {url}: {resp.status}"


# --- a client hanging up mid-upload ----------------------------------------------------------------
async def _half_body(w: World, method: str, target: str, headers: Mapping[str, str], size: int) -> None:
    """Announce `size` bytes, send a tenth of them on a real socket, then close it."""
    reader, writer = await asyncio.open_connection(w.host, w.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in {
        "Host": f"{w.host}:{w.port}", "Authorization": EINSTEIN, "Content-Length": str(size),
        **headers}.items())
    writer.write(f"{method} {target} HTTP/1.1\r\n{head}\r\n".encode() + b"a" * (size // 10))
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def test_client_hanging_up_mid_upload_is_an_aborted_request_not_a_500(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A PUT and a TUS PATCH whose client closes the socket half-way: the proxy logs an aborted
    request (INFO, method and path, never the /data token), the access log records 499, nothing
    is logged as a 500 or an error, no file appears, and the TUS upload keeps what arrived."""
    w = world
    files = w.namespaces["files"]
    created = await request(w, "POST", f"{files}/sub/", {
        "Tus-Resumable": "1.0.0", "Upload-Length": "200000",
        "Upload-Metadata": "filename " + base64.b64encode(b"tus-abort.bin").decode()})
    assert created.status == 201, created
    location = urlsplit(created.headers["location"]).path
    caplog.clear()
    caplog.set_level(logging.INFO)
    await _half_body(w, "PUT", f"{files}/sub/abort.bin", {}, 200000)
    await _half_body(w, "PATCH", location, {"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                                            "Content-Type": "application/offset+octet-stream"}, 200000)
    for _ in range(50):
        if sum("request aborted by the client" in r.getMessage() for r in caplog.records) >= 2:
            break
        await asyncio.sleep(0.1)
    aborted = [r for r in caplog.records if "request aborted by the client" in r.getMessage()]
    assert [r.getMessage().split(": ", 1)[1].split(" (")[0] for r in aborted] == [
        f"PUT {files}/sub/abort.bin", "PATCH /data/…"], [r.getMessage() for r in caplog.records]
    assert all(r.levelno == logging.INFO for r in aborted)
    token = location.rsplit("/", 1)[1]
    assert not any(token in r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert sum('" 499 ' in line for line in access) == 2, access
    assert not any('" 500 ' in line for line in access), access
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await request(w, "GET", f"{files}/sub/abort.bin")).status == 404
    head = await request(w, "HEAD", location, {"Tus-Resumable": "1.0.0"}, auth=None)
    assert head.status == 200 and 0 < int(head.headers["upload-offset"]) <= 20000, head.headers
    await request(w, "DELETE", location, {"Tus-Resumable": "1.0.0"}, auth=None)
