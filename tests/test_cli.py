"""The `ocis` CLI: usage errors and exit codes, remote path syntax, output formatting, SDK parsing,
and (marked slow) the whole user story against a real server through the real CLI in subprocesses."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from ocis_cli.client import errors as E
from ocis_cli.client.http import HttpClient, parse_error_body
from ocis_cli.client.models import Drive
from ocis_cli.client.webdav import (
    WebDav,
    checksum_from_header,
    dav_path,
    parse_multistatus,
    verify_download,
)
from ocis_cli.exitcodes import ExitCode
from ocis_cli.main import app
from ocis_cli.output import CliError, human_size, parse_size, print_table
from ocis_cli.remotepath import parse_remote, pick_drive
from ocis_cli.runner import exit_code_for

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Invoke the app in-process with a private XDG_CONFIG_HOME and no inherited OCIS_* settings."""
    for key in list(os.environ):
        if key.startswith(("OCIS_", "OC_PASS", "PROXY_", "IDM_", "ADMIN_PASSWORD")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), env=env, input=input, prog_name="ocis")

    return invoke


# --- usage errors and exit codes -----------------------------------------------------------------

def test_help_lists_every_area(cli: Callable[..., Any]) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for word in ("init", "server", "login", "spaces", "put", "get", "storage-users", "Examples"):
        assert word in result.output


def test_unknown_flag_is_a_usage_error(cli: Callable[..., Any]) -> None:
    assert cli("ls", "--bogus").exit_code == ExitCode.USAGE
    assert cli("nosuchcommand").exit_code == ExitCode.USAGE


def test_login_without_password_source_when_not_a_tty_exits_2(cli: Callable[..., Any]) -> None:
    result = cli("login", "http://127.0.0.1:1", "--user", "admin")
    assert result.exit_code == ExitCode.USAGE
    assert "--password-from-env or --password-file required when not interactive" in result.output


def test_login_password_from_env_needs_the_variable(cli: Callable[..., Any]) -> None:
    result = cli("login", "http://127.0.0.1:1", "--user", "admin", "--password-from-env")
    assert result.exit_code == ExitCode.USAGE
    assert "OCIS_PASSWORD" in result.output


def test_login_rejects_a_url_without_scheme(cli: Callable[..., Any]) -> None:
    result = cli("login", "cloud.example.com", "--user", "a", "--password-from-env",
                 env={"OCIS_PASSWORD": "x"})
    assert result.exit_code == ExitCode.USAGE


def test_login_to_nothing_is_a_network_error(cli: Callable[..., Any],
                                             free_port: Callable[[], int]) -> None:
    result = cli("login", f"http://127.0.0.1:{free_port()}", "--user", "admin",
                 "--password-from-env", env={"OCIS_PASSWORD": "x"})
    assert result.exit_code == ExitCode.TEMPORARY
    assert result.output.startswith("error: cannot reach")


def test_user_commands_without_a_context_exit_10(cli: Callable[..., Any]) -> None:
    for args in (["ls", "/"], ["spaces", "ls"], ["auth", "status"]):
        result = cli(*args)
        assert result.exit_code == ExitCode.NOT_INITIALISED, (args, result.output)
        assert "ocis login" in result.output


def test_unknown_context_exits_10(cli: Callable[..., Any]) -> None:
    for result in (cli("--context", "nope", "ls", "/"), cli("ls", "/", env={"OCIS_CONTEXT": "nope"})):
        assert result.exit_code == ExitCode.NOT_INITIALISED
        assert "no context named 'nope'" in result.output


def test_spaces_create_rejects_a_bad_quota(cli: Callable[..., Any]) -> None:
    assert cli("spaces", "create", "Physics", "--quota", "lots").exit_code == ExitCode.USAGE


def test_health_and_list_without_runtime_exit_5(cli: Callable[..., Any], free_port: Callable[[], int],
                                              tmp_path: Path) -> None:
    env = {"OCIS_RUNTIME_PORT": str(free_port()), "OCIS_CONFIG_DIR": str(tmp_path / "none")}
    for command in ("health", "list"):
        result = cli(command, env=env)
        assert result.exit_code == ExitCode.TEMPORARY, result.output
        assert "runtime not reachable" in result.output


def test_init_writes_config_then_refuses_to_overwrite(cli: Callable[..., Any], tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    first = cli("init", "--insecure", "true", "--admin-password", "s3cret",
                "--config-path", str(config_dir))
    assert first.exit_code == 0, first.output
    assert "s3cret" in first.output and str(config_dir / "ocis.toml") in first.output
    assert (config_dir / "ocis.toml").stat().st_mode & 0o777 == 0o600
    again = cli("init", "--insecure", "true", "--config-path", str(config_dir))
    assert again.exit_code == ExitCode.FAILURE
    assert again.output.startswith("error:") and "already exists" in again.output
    forced = cli("init", "--insecure", "false", "-f", "--config-path", str(config_dir))
    assert forced.exit_code == 0 and "backup" in forced.output


def test_init_needs_insecure_when_not_interactive(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("init", "--config-path", str(tmp_path / "cfg"))
    assert result.exit_code == ExitCode.USAGE
    assert cli("init", "--insecure", "maybe", "--config-path", str(tmp_path)).exit_code == 2


def test_context_commands(cli: Callable[..., Any], tmp_path: Path) -> None:
    from ocis_cli.contexts import Context, ContextStore

    store = ContextStore(tmp_path / "xdg" / "ocis" / "config.toml")
    store.save(Context("one", "http://one", "u1", "p1"), make_current=True)
    store.save(Context("two", "http://two", "u2", "p2"), make_current=False)
    listed = cli("context", "ls", "-o", "json")
    assert json.loads(listed.output) == [
        {"name": "one", "url": "http://one", "user": "u1", "current": True},
        {"name": "two", "url": "http://two", "user": "u2", "current": False}]
    assert "p1" not in listed.output
    assert cli("context", "use", "two").exit_code == 0
    assert store.current_name() == "two"
    assert cli("context", "use", "three").exit_code == ExitCode.NOT_INITIALISED
    assert cli("context", "rm", "two").exit_code == 0
    assert [c.name for c in store.all()] == ["one"] and store.current_name() is None
    assert store.path.stat().st_mode & 0o777 == 0o600


def test_version_names_the_python_implementation(cli: Callable[..., Any]) -> None:
    result = cli("version")
    assert result.exit_code == 0 and "Python implementation" in result.output


def test_python_dash_m_is_ocis() -> None:
    proc = subprocess.run([sys.executable, "-m", "ocis_cli", "rm", "--help"], check=False,
                          cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TYPER_USE_RICH": "0"})
    assert proc.returncode == 0 and "Usage: ocis rm" in proc.stdout


def test_cli_import_stays_free_of_aiohttp_and_server_code() -> None:
    code = ("import sys, ocis_cli.main\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('aiohttp', 'textual', 'rich') or m.startswith(('ocis_server.runtime', "
            "'ocis_server.storage', 'ocis_server.services.'))))")
    proc = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- remote path syntax --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "space", "path"), [
    ("/docs/a.txt", None, "/docs/a.txt"),
    ("docs/a.txt", None, "/docs/a.txt"),
    ("/", None, "/"),
    ("/docs/", None, "/docs"),
    ("Physics:/data/run1.csv", "Physics", "/data/run1.csv"),
    ("Physics:/", "Physics", "/"),
    ("a1$b2:/x", "a1$b2", "/x"),
    ("notes:today.txt", None, "/notes:today.txt"),      # no '/' after ':' -> a plain name
    ("/dir/a:/b", None, "/dir/a:/b"),                  # ':' after a '/' -> a plain name
    ("//docs//a.txt", None, "/docs/a.txt"),
])
def test_parse_remote(text: str, space: str | None, path: str) -> None:
    rp = parse_remote(text)
    assert (rp.space, rp.path) == (space, path)


@pytest.mark.parametrize("text", ["", "/docs/../etc", "Physics:/./a", ".."])
def test_parse_remote_rejects(text: str) -> None:
    with pytest.raises(CliError) as info:
        parse_remote(text)
    assert info.value.code == ExitCode.USAGE


def _drive(id_: str, name: str, kind: str = "project") -> Drive:
    return Drive.from_graph({"id": id_, "name": name, "driveType": kind})


def test_pick_drive_by_id_name_and_ambiguity() -> None:
    drives = [_drive("s$1", "Physics"), _drive("s$2", "physics"), _drive("s$3", "Chem"),
              _drive("s$4", "Bio"), _drive("s$5", "Bio")]
    assert pick_drive(drives, "s$3").name == "Chem"
    assert pick_drive(drives, "Physics").id == "s$1"          # exact name beats case-insensitive
    assert pick_drive(drives, "chem").id == "s$3"
    with pytest.raises(CliError) as info:
        pick_drive(drives, "Bio")
    assert info.value.code == ExitCode.USAGE and "s$4" in str(info.value) and "s$5" in str(info.value)
    with pytest.raises(CliError):
        pick_drive(drives, "PHYSICS")
    with pytest.raises(E.NotFound):
        pick_drive(drives, "Math")


def test_dav_path_quotes_segments_and_space_id() -> None:
    assert dav_path("st$sp", "/a b/c#d%.txt") == "/remote.php/dav/spaces/st%24sp/a%20b/c%23d%25.txt"
    assert dav_path("st$sp", "/") == "/remote.php/dav/spaces/st%24sp/"


# --- output formatting ---------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "text"), [(None, "-"), (0, "0 B"), (1023, "1023 B"),
                                         (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")])
def test_human_size(n: int | None, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(("text", "n"), [("1024", 1024), ("500MB", 500_000_000),
                                         ("50GB", 50_000_000_000), ("1.5GiB", 1610612736),
                                         ("2 kib", 2048)])
def test_parse_size(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "GB", "12XB", "-5MB", "1.2.3GB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_tables_are_tsv_without_header_when_piped() -> None:
    out = io.StringIO()
    print_table(["NAME", "SIZE"], [["a\tb", 1], ["c", None]], stream=out)
    assert out.getvalue() == "a b\t1\nc\t\n"


def test_ls_json_shape() -> None:
    body = _multistatus()
    items = parse_multistatus(body)
    assert [r.path for r in items] == ["/docs", "/docs/a b.txt", "/docs/sub"]
    assert items[1].to_json() == {"name": "a b.txt", "type": "file", "size": 11,
                                  "mtime": "2026-11-26T00:10:00Z", "etag": '"e1"',
                                  "id": "s$p!n1", "permissions": "RDNVW"}
    assert items[2].type == "folder" and items[2].size == 42
    assert checksum_from_header(items[1].checksums) == "aa11"


# --- SDK error parsing ---------------------------------------------------------------------------

def test_parse_error_bodies() -> None:
    dav = (b'<?xml version="1.0"?><d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
           b"<s:exception>Sabre\\DAV\\Exception\\NotFound</s:exception>"
           b"<s:message>Resource not found</s:message></d:error>")
    assert parse_error_body(dav, "application/xml") == ("Resource not found",
                                                         "Sabre\\DAV\\Exception\\NotFound")
    odata = json.dumps({"error": {"code": "itemNotFound", "message": "no drive"}}).encode()
    assert parse_error_body(odata, "application/json") == ("no drive", "itemNotFound")
    ocs = json.dumps({"ocs": {"meta": {"status": "failure", "statuscode": 998,
                                       "message": "not found"}, "data": None}}).encode()
    assert parse_error_body(ocs, "application/json") == ("not found", "998")
    ocs_xml = b"<ocs><meta><statuscode>997</statuscode><message>Unauthorised</message></meta></ocs>"
    assert parse_error_body(ocs_xml, "text/xml") == ("Unauthorised", "997")


@pytest.mark.parametrize(("status", "kind", "code"), [
    (401, E.AuthError, ExitCode.AUTH), (403, E.PermissionDenied, ExitCode.PERMISSION),
    (404, E.NotFound, ExitCode.NOT_FOUND), (409, E.Conflict, ExitCode.FAILURE),
    (423, E.Locked, ExitCode.TEMPORARY), (507, E.QuotaExceeded, ExitCode.QUOTA),
    (503, E.Unavailable, ExitCode.TEMPORARY), (500, E.ServerError, ExitCode.FAILURE),
    (400, E.BadRequest, ExitCode.FAILURE)])
def test_status_to_error_to_exit_code(status: int, kind: type[Exception], code: ExitCode) -> None:
    error = E.error_for_status(status, "m")
    assert type(error) is kind
    assert exit_code_for(error) == code


def test_network_error_exit_code() -> None:
    assert exit_code_for(E.NetworkError("down")) == ExitCode.TEMPORARY


# --- SDK transfers against a scripted aiohttp server (checks what goes on the wire) -------------

async def test_upload_sends_checksum_mtime_and_streams(tmp_path: Path, aiohttp_server: Any) -> None:
    seen: dict[str, Any] = {}

    async def put(request: web.Request) -> web.Response:
        seen["headers"] = dict(request.headers)
        seen["body"] = await request.read()
        seen["path"] = request.raw_path
        if request.headers.get("OC-Checksum") != "SHA1:" + hashlib.sha1(seen["body"]).hexdigest():
            return web.Response(status=400)
        return web.Response(status=201, headers={"OC-FileId": "s$p!n"})

    server_app = web.Application()
    server_app.router.add_route("PUT", "/{tail:.*}", put)
    server = await aiohttp_server(server_app)
    local = tmp_path / "big file.bin"
    local.write_bytes(os.urandom(700_000))
    os.utime(local, (1_700_000_000, 1_700_000_000))
    ticks: list[int] = []
    async with HttpClient(str(server.make_url("/")), user="u", password="p") as http:
        from ocis_cli.client.webdav import sha1_of_file

        headers = await WebDav(http).upload("s$p", "/docs/big file.bin", local,
                                            sha1=sha1_of_file(local), mtime=1_700_000_000,
                                            progress=ticks.append)
    assert headers["OC-FileId"] == "s$p!n"
    assert seen["path"] == "/remote.php/dav/spaces/s%24p/docs/big%20file.bin"
    assert seen["headers"]["X-OC-Mtime"] == "1700000000"
    assert seen["headers"]["Content-Length"] == "700000"
    assert seen["headers"]["Authorization"].startswith("Basic ")
    assert seen["body"] == local.read_bytes() and sum(ticks) == 700_000 and len(ticks) > 1


async def test_download_detects_a_checksum_mismatch(aiohttp_server: Any) -> None:
    async def get(request: web.Request) -> web.Response:
        return web.Response(body=b"hello", headers={"OC-Checksum": "SHA1:" + "0" * 40})

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, content_type="application/xml", body=(
            b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
            b"<s:message>File not found: /nope</s:message></d:error>"))

    server_app = web.Application()
    server_app.router.add_get("/remote.php/dav/spaces/{space}/ok", get)
    server_app.router.add_route("*", "/{tail:.*}", missing)
    server = await aiohttp_server(server_app)
    async with HttpClient(str(server.make_url("/"))) as http:
        sink = io.BytesIO()
        result = await WebDav(http).download("s$p", "/ok", sink)
        assert sink.getvalue() == b"hello"
        with pytest.raises(E.IntegrityError):
            verify_download(result, "/ok")
        with pytest.raises(E.NotFound, match="File not found: /nope"):
            await WebDav(http).download("s$p", "/nope", io.BytesIO())


def _multistatus() -> bytes:
    return b"""<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
 <d:response><d:href>/remote.php/dav/spaces/s%24p/docs/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><oc:size>53</oc:size>
   <oc:fileid>s$p!n0</oc:fileid><oc:permissions>RDNVCK</oc:permissions></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/remote.php/dav/spaces/s%24p/docs/a%20b.txt</d:href>
  <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>11</d:getcontentlength>
   <d:getlastmodified>Thu, 26 Nov 2026 00:10:00 GMT</d:getlastmodified><d:getetag>"e1"</d:getetag>
   <oc:fileid>s$p!n1</oc:fileid><oc:permissions>RDNVW</oc:permissions>
   <oc:checksums><oc:checksum>SHA1:aa11 MD5:bb22</oc:checksum></oc:checksums></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><oc:size/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>http://host/remote.php/dav/spaces/s$p/docs/sub/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><oc:size>42</oc:size>
   </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"""


# --- interruption: Ctrl-C during a download exits 130 and leaves no partial file ----------------

@contextmanager
def slow_file_server(chunk: bytes, chunks: int) -> Iterator[str]:
    """A scripted server (own loop, own thread): one personal drive holding /big.bin, sent slowly."""
    size = len(chunk) * chunks

    async def drives(request: web.Request) -> web.Response:
        return web.json_response({"value": [{"id": "s$p", "name": "Me", "driveType": "personal"}]})

    async def propfind(request: web.Request) -> web.Response:
        body = (f'<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:response>'
                f"<d:href>/remote.php/dav/spaces/s%24p/big.bin</d:href><d:propstat><d:prop>"
                f"<d:resourcetype/><d:getcontentlength>{size}</d:getcontentlength></d:prop>"
                f"<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>")
        return web.Response(status=207, body=body.encode(), content_type="application/xml")

    async def get(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(size)})
        await resp.prepare(request)
        for _ in range(chunks):
            await resp.write(chunk)
            await asyncio.sleep(0.2)
        return resp

    server_app = web.Application()
    server_app.router.add_get("/graph/{version:v1.0|v1beta1}/me/drives", drives)
    server_app.router.add_route("PROPFIND", "/remote.php/dav/spaces/{space}/big.bin", propfind)
    server_app.router.add_get("/remote.php/dav/spaces/{space}/big.bin", get)
    with serve_in_thread(server_app) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def serve_in_thread(server_app: web.Application) -> Iterator[int]:
    """Serve an aiohttp app on a free loopback port from its own loop and thread; yield the port."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(server_app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield int(port)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_ctrl_c_during_get_exits_130_without_partial_file(tmp_path: Path) -> None:
    from ocis_cli.contexts import Context, ContextStore

    with slow_file_server(b"x" * 65536, 100) as url:
        xdg = tmp_path / "xdg"
        ContextStore(xdg / "ocis" / "config.toml").save(Context("slow", url, "u", "p"),
                                                        make_current=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCIS_")}
        env["XDG_CONFIG_HOME"] = str(xdg)
        proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "get", "/big.bin", "out.bin"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size for p in tmp_path.glob(".out.bin.*.part")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    assert b"error: interrupted" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xdg"]


def test_health_unhealthy_exits_1_with_a_table_and_list_json(cli: Callable[..., Any]) -> None:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "unhealthy",
                                  "services": {"graph": "ok", "ocdav": "not ready"}}, status=503)

    async def services(request: web.Request) -> web.Response:
        return web.json_response([{"name": "graph", "state": "ready", "group": 3, "restarts": 0,
                                   "since": "2026-11-26T00:00:00Z"}])

    runtime_app = web.Application()
    runtime_app.router.add_get("/health", health)
    runtime_app.router.add_get("/services", services)
    with serve_in_thread(runtime_app) as port:
        env = {"OCIS_RUNTIME_PORT": str(port), "OCIS_CONFIG_DIR": "/nonexistent"}
        result = cli("health", env=env)
        listed = cli("list", "-o", "json", env=env)
        table = cli("list", env=env)
    assert result.exit_code == ExitCode.FAILURE
    assert "unhealthy" in result.output and "ocdav\tnot ready" in result.output
    assert json.loads(listed.output) == [{"name": "graph", "state": "ready", "group": 3,
                                          "restarts": 0, "since": "2026-11-26T00:00:00Z"}]
    assert table.output == "graph\tready\t3\t0\t2026-11-26T00:00:00Z\n"


# --- end to end: the real server and the real CLI, each in a subprocess -------------------------

class Story:
    """Runs `python -m ocis_cli` with the server's environment and a private XDG_CONFIG_HOME."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = {**env, "XDG_CONFIG_HOME": str(workdir / "cli-xdg")}
        self.env.pop("OCIS_CONTEXT", None)
        self.workdir = workdir

    def run(self, *args: str, env: dict[str, str] | None = None,
            expect: int | None = 0) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", *args],
                              env={**self.env, **(env or {})},
                              cwd=self.workdir, capture_output=True, timeout=120,
                              stdin=subprocess.DEVNULL, check=False)
        if expect is not None:
            assert proc.returncode == expect, (
                f"`ocis {' '.join(args)}` exited {proc.returncode}, expected {expect}\n"
                f"stdout: {proc.stdout[-2000:]!r}\nstderr: {proc.stderr[-2000:]!r}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def login(self, url: str, user: str, password: str, *extra: str, expect: int = 0) -> None:
        self.run("login", url, "--user", user, "--password-from-env", *extra,
                 env={"OCIS_PASSWORD": password}, expect=expect)


def _wait_healthy(story: Story, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        proc = story.run("health", expect=None)
        if proc.returncode == 0:
            return
        assert time.monotonic() < deadline, f"`ocis health` never exited 0: {proc.stderr!r}"
        time.sleep(0.3)


@pytest.mark.slow
def test_e2e_user_story(tmp_path: Path, real_server_factory: Callable[..., Any]) -> None:
    with real_server_factory(tmp_path / "srv") as server:
        story = Story(server.env, tmp_path)
        _wait_healthy(story)
        _files_story(story, server.url, tmp_path)

        listed = story.run("list")
        names = {line.split("\t")[0] for line in listed.stdout.decode().splitlines()}
        assert {"ocdav", "graph", "proxy"} <= names, listed.stdout
        services = story.json("list")
        assert all(s["state"] for s in services) and {"ocdav", "graph"} <= {s["name"] for s in services}
        _project_space_story(story, tmp_path)

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log_tail()
        assert story.run("health", expect=None).returncode == ExitCode.TEMPORARY


def _files_story(story: Story, url: str, tmp: Path) -> None:
    story.login(url, "admin", "admin")
    config = tmp / "cli-xdg" / "ocis" / "config.toml"
    assert config.stat().st_mode & 0o777 == 0o600
    assert b"plain text" in story.run("auth", "status").stdout.lower()

    drives = story.json("spaces", "ls")
    personal = [d for d in drives if d["driveType"] == "personal"]
    assert personal and personal[0]["id"]
    assert personal[0]["name"].encode() in story.run("spaces", "ls").stdout

    story.run("mkdir", "/docs")
    assert story.run("mkdir", "/docs", expect=None).returncode == ExitCode.FAILURE
    story.run("mkdir", "-p", "/docs/deep/er")
    assert story.run("mkdir", "/nope/x", expect=None).returncode == ExitCode.NOT_FOUND

    payload = os.urandom(300_000) + "é ü".encode()
    local = tmp / "report 1.bin"
    local.write_bytes(payload)
    os.utime(local, (1_700_000_000, 1_700_000_000))
    story.run("put", str(local), "/docs/")
    missing_parent = story.run("put", str(local), "/no/such/dir.bin", expect=ExitCode.NOT_FOUND)
    assert b"parent folder does not exist" in missing_parent.stderr

    entries = {e["name"]: e for e in story.json("ls", "/docs")}
    assert set(entries) == {"report 1.bin", "deep"}
    assert entries["report 1.bin"]["type"] == "file" and entries["deep"]["type"] == "folder"
    assert entries["report 1.bin"]["size"] == len(payload)
    assert entries["report 1.bin"]["mtime"] == "2023-11-14T22:13:20Z"
    assert entries["report 1.bin"]["etag"] and entries["report 1.bin"]["id"]
    assert "report 1.bin" in story.run("ls", "-l", "/docs").stdout.decode()

    story.run("get", "/docs/report 1.bin", str(tmp / "back.bin"))
    assert (tmp / "back.bin").read_bytes() == payload
    assert story.run("get", "/docs/report 1.bin", "-").stdout == payload
    assert not list(tmp.glob(".back.bin.*.part"))

    story.run("mv", "/docs/report 1.bin", "/docs/renamed.bin")
    story.run("cp", "/docs/renamed.bin", "/docs/deep/")
    assert {e["name"] for e in story.json("ls", "/docs")} == {"renamed.bin", "deep"}
    assert story.json("stat", "/docs/deep/renamed.bin")["size"] == len(payload)

    for args in (["stat", "/docs/report 1.bin"], ["get", "/missing.txt"], ["ls", "/missing"],
                 ["rm", "/missing"], ["ls", "NoSuchSpace:/"]):
        assert story.run(*args, expect=None).returncode == ExitCode.NOT_FOUND, args

    assert story.run("rm", "/docs", expect=None).returncode == ExitCode.FAILURE
    story.run("rm", "/docs/renamed.bin")
    story.run("rm", "-r", "/docs")
    assert story.json("ls", "/") == []

    story.login(url, "admin", "wrong", "--context-name", "bad", expect=ExitCode.AUTH)
    assert story.run("--context", "bad", "ls", "/", expect=None).returncode == ExitCode.NOT_INITIALISED


def _project_space_story(story: Story, tmp_path: Path) -> None:
    created = story.run("spaces", "create", "CLI Physics", "--quota", "1MB",
                        "--description", "from the cli test")
    space_id = created.stdout.decode().strip()
    drives = {d["id"]: d for d in story.json("spaces", "ls")}
    assert drives[space_id]["name"] == "CLI Physics" and drives[space_id]["driveType"] == "project"
    assert drives[space_id]["quota"]["total"] == 1_000_000

    small = tmp_path / "small.txt"
    small.write_text("hello physics\n")
    story.run("put", str(small), "CLI Physics:/")
    story.run("put", str(small), f"{space_id}:/by-id.txt")
    assert {e["name"] for e in story.json("ls", "cli physics:/")} == {"small.txt", "by-id.txt"}

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1_200_000))
    assert story.run("put", str(big), "CLI Physics:/", expect=None).returncode == ExitCode.QUOTA
