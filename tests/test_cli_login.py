"""`ocis login` with OpenID Connect: token storage (keyring or 0600 file), PKCE and the loopback
listener, and (marked slow) the real CLI in a subprocess against a real server with the embedded IdP:
device flow completed over HTTP as a person would, whoami, a file operation with the token, silent
refresh of a short-lived token, logout, and the PKCE loopback flow."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import pytest
import requests
from keyring.backend import KeyringBackend
from typer.testing import CliRunner

from ocis_cli.client import oidc
from ocis_cli.client.errors import AuthError
from ocis_cli.credentials import FILE, KEYRING, CredentialStore, Stored
from ocis_cli.exitcodes import ExitCode
from ocis_cli.main import app

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


# --- token storage ---------------------------------------------------------------------------------

class MemoryKeyring(KeyringBackend):
    """An in-memory system keyring, as a desktop session would provide."""

    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def _stored(access: str = "a1") -> Stored:
    tokens = oidc.TokenSet(access_token=access, expires_at=time.time() + 300, refresh_token="r1")
    return Stored(tokens=tokens.to_dict(), issuer="https://idp.test",
                  token_endpoint="https://idp.test/token", client_id="ocis-cli")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_tokens_go_to_a_0600_file_without_a_keyring(tmp_path: Path, no_keyring: None) -> None:
    store = CredentialStore(tmp_path / "cfg" / "tokens.toml")
    assert store.save("cloud", _stored()) == FILE
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert "PLAIN TEXT" in store.describe(FILE) and str(store.path) in store.describe(FILE)
    loaded = store.load("cloud", FILE)
    assert loaded is not None and loaded.tokens["access_token"] == "a1"
    assert loaded.token_endpoint == "https://idp.test/token"
    store.save("other", _stored("a2"))
    store.delete("cloud")
    assert store.load("cloud", FILE) is None
    assert store.load("other", FILE) is not None


def test_tokens_go_to_the_keyring_when_one_is_usable(tmp_path: Path,
                                                    memory_keyring: MemoryKeyring) -> None:
    store = CredentialStore(tmp_path / "tokens.toml")
    assert store.save("cloud", _stored()) == KEYRING
    assert not store.path.exists(), "no plain-text copy when the keyring took the tokens"
    assert json.loads(memory_keyring.items[("ocis-cli", "cloud")])["tokens"]["refresh_token"] == "r1"
    assert "system keyring (" in store.describe(KEYRING)
    assert "MemoryKeyring" in store.describe(KEYRING)
    loaded = store.load("cloud", KEYRING)
    assert loaded is not None and loaded.tokens["access_token"] == "a1"
    # --insecure-storage: the file, and the keyring entry is removed
    assert store.save("cloud", _stored("a2"), prefer_file=True) == FILE
    assert ("ocis-cli", "cloud") not in memory_keyring.items
    store.delete("cloud")
    assert store.load("cloud", FILE) is None


# --- PKCE, tokens, loopback -----------------------------------------------------------------------

def test_pkce_challenge_is_rfc7636_s256() -> None:
    request = oidc.PkceRequest(verifier="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    assert request.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    fresh = oidc.PkceRequest()
    assert 43 <= len(fresh.verifier) <= 128 and fresh.state != oidc.PkceRequest().state


def test_short_lived_tokens_refresh_in_their_last_quarter() -> None:
    now = time.time()
    short = oidc.TokenSet(access_token="x", expires_at=now + 8, issued_at=now)
    assert not short.expires_soon()            # margin capped at 2 s of an 8 s lifetime
    assert oidc.TokenSet(access_token="x", expires_at=now + 1, issued_at=now - 7).expires_soon()
    assert oidc.TokenSet(access_token="x", expires_at=now + 20).expires_soon()


def test_token_response_without_access_token_is_refused() -> None:
    from ocis_cli.client.errors import ServerError

    with pytest.raises(ServerError):
        oidc.TokenSet.from_response({"token_type": "Bearer"})
    kept = oidc.TokenSet.from_response({"access_token": "t", "expires_in": 60},
                                       previous_refresh="old")
    assert kept.refresh_token == "old" and 55 < kept.expires_at - time.time() <= 60


async def test_loopback_listener_ignores_a_wrong_state() -> None:
    async with oidc.LoopbackReceiver("the-state") as receiver:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", receiver.redirect_uri)
        async with aiohttp.ClientSession() as session:
            async with session.get(receiver.redirect_uri,
                                   params={"code": "evil", "state": "guess"}) as resp:
                assert resp.status == 400
            async with session.get(receiver.redirect_uri,
                                   params={"code": "good", "state": "the-state"}) as resp:
                assert resp.status == 200 and "close this window" in await resp.text()
        assert await receiver.wait(5) == "good"


async def test_loopback_listener_reports_a_refusal() -> None:
    async with oidc.LoopbackReceiver("s") as receiver:
        async with aiohttp.ClientSession() as session, session.get(
                receiver.redirect_uri, params={"error": "access_denied", "state": "s"}) as resp:
            assert resp.status == 200
        with pytest.raises(AuthError, match="refused"):
            await receiver.wait(5)


async def test_loopback_listener_refuses_an_answer_from_another_issuer() -> None:
    async with oidc.LoopbackReceiver("s", issuer="https://idp.test") as receiver:
        async with aiohttp.ClientSession() as session, session.get(
                receiver.redirect_uri,
                params={"code": "c", "state": "s", "iss": "https://evil.test"}) as resp:
            assert resp.status == 400
        with pytest.raises(AuthError, match="another issuer"):
            await receiver.wait(5)


async def test_the_bearer_token_goes_to_the_server_only(aiohttp_server: Any) -> None:
    """A Location or redirect naming another host (a TUS upload URL, say) never gets the token."""
    from aiohttp import web

    from ocis_cli.client import BearerAuth
    from ocis_cli.client.http import HttpClient

    seen: dict[str, str] = {}

    async def record(request: web.Request) -> web.Response:
        seen[request.host] = request.headers.get("Authorization", "")
        return web.Response(text="ok")

    servers = []
    for _ in range(2):
        application = web.Application()
        application.router.add_get("/x", record)
        servers.append(await aiohttp_server(application))
    ours, other = (f"http://127.0.0.1:{server.port}" for server in servers)
    tokens = oidc.TokenSet(access_token="secret-token", expires_at=time.time() + 300)
    bearer = BearerAuth(tokens, token_endpoint=f"{ours}/token", client_id="ocis-cli")
    async with HttpClient(ours, bearer=bearer) as http:
        await http.request("GET", "/x")
        await http.request("GET", f"{other}/x")
    assert seen[ours.removeprefix("http://")] == "Bearer secret-token"
    assert seen[other.removeprefix("http://")] == ""


def test_device_and_password_options_do_not_mix(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("OCIS_USER", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["login", "http://127.0.0.1:1", "--device", "--user", "x"])
    assert result.exit_code == ExitCode.USAGE
    result = runner.invoke(app, ["login", "http://127.0.0.1:1", "--password-from-env"])
    assert result.exit_code == ExitCode.USAGE and "--user" in result.output
    result = runner.invoke(app, ["auth", "token"])
    assert result.exit_code == ExitCode.NOT_INITIALISED


def test_login_to_nothing_is_a_network_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             free_port: Any) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("OCIS_USER", raising=False)
    for extra in ([], ["--device"]):
        result = CliRunner().invoke(app, ["login", f"http://127.0.0.1:{free_port()}", *extra])
        assert result.exit_code == ExitCode.TEMPORARY, result.output
        assert "cannot reach" in result.output
    assert not (tmp_path / "ocis" / "config.toml").exists()


# --- a person at a browser, over HTTP ---------------------------------------------------------------

class _Forms(HTMLParser):
    """The forms of a page: action, method, and the inputs and buttons with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"),
                               "inputs": {}, "buttons": []})
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))


def act_as_person(start: str, user: str, password: str, user_code: str = "",
                  max_steps: int = 8) -> requests.Response:
    """Open `start` in a 'browser' (a cookie session following redirects) and fill what each page
    asks: sign in, enter the device code, allow. Stops at the first page without a form."""
    browser = requests.Session()
    resp = browser.get(start, timeout=15)
    for _ in range(max_steps):
        parser = _Forms()
        parser.feed(resp.text)
        if not parser.forms:
            return resp
        form = parser.forms[0]
        data = dict(form["inputs"])
        if "username" in data:
            data.update(username=user, password=password)
        if "user_code" in data and user_code:
            data["user_code"] = user_code
        for name, value in form["buttons"]:
            if value in ("allow", "approve", "yes"):
                data[name] = value
        resp = browser.request(form["method"].upper(), urljoin(resp.url, form["action"]),
                               data=data, timeout=15)
    raise AssertionError(f"still on a form after {max_steps} pages: {resp.url}\n{resp.text[:800]}")


class LiveCli:
    """`python -m ocis_cli` with a private XDG config dir and no usable keyring (the file is used)."""

    def __init__(self, server_env: dict[str, str], workdir: Path) -> None:
        self.env = {**server_env, **NO_KEYRING, "XDG_CONFIG_HOME": str(workdir / "cli-xdg")}
        self.env.pop("OCIS_CONTEXT", None)
        self.workdir = workdir
        self.tokens_file = workdir / "cli-xdg" / "ocis" / "tokens.toml"

    def run(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", *args], env=self.env,
                              cwd=self.workdir, capture_output=True, text=True, timeout=90,
                              stdin=subprocess.DEVNULL, check=False)
        if expect is not None:
            assert proc.returncode == expect, (f"`ocis {' '.join(args)}` exited {proc.returncode}"
                                               f"\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
        return proc

    def start(self, *args: str) -> Running:
        return Running(subprocess.Popen([sys.executable, "-m", "ocis_cli", *args], env=self.env,
                                        cwd=self.workdir, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                        text=True))

    def stored_tokens(self, context: str) -> dict[str, Any]:
        import tomllib

        doc = tomllib.loads(self.tokens_file.read_text())
        return dict(doc["contexts"][context]["tokens"])


class Running:
    """A CLI process whose stderr a thread collects, so a test can wait for a line and still see
    everything the process printed at the end."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put("")

    def _drain(self, timeout: float) -> bool:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return True
        self.seen.append(line)
        return bool(line)

    def read_until(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until stderr so far matches `pattern`."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            if not self._drain(max(0.1, deadline - time.monotonic())):
                break
            found = regex.search("".join(self.seen))
            if found:
                return found
        self.proc.kill()
        raise AssertionError(f"no {pattern!r} in the CLI's output:\n{''.join(self.seen)[-2000:]}")

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        """(exit code, all of stderr)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the CLI did not finish: {''.join(self.seen)[-1500:]}") from None
        self._pump.join(timeout=10)
        while self._drain(0.01):
            pass
        return self.proc.returncode, "".join(self.seen)


# --- the real CLI against a real server with the embedded IdP ------------------------------------

IDP_ENV = {"IDP_ACCESS_TOKEN_EXPIRATION": "4", "IDP_DEVICE_POLL_INTERVAL": "1"}


@pytest.fixture(scope="module")
def idp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.conftest import launch_real_server

    with launch_real_server(tmp_path_factory.mktemp("login-srv"), IDP_ENV) as server:
        yield server


@pytest.mark.slow
def test_device_login_whoami_files_refresh_logout(idp_server: Any, tmp_path: Path) -> None:
    cli = LiveCli(idp_server.env, tmp_path)
    proc = cli.start("login", idp_server.url, "--device", "--context-name", "dev")
    found = proc.read_until(r"one-time code: (\S+)\n.*?open (\S+) in a browser")
    user_code, page = found.group(1), found.group(2)
    assert urlsplit(page).netloc == urlsplit(idp_server.url).netloc
    final = act_as_person(page, "einstein", "relativity", user_code)
    assert final.status_code == 200, final.text[:500]
    code, err = proc.finish()
    assert code == 0, err
    assert "Logged in to" in err and "PLAIN TEXT" in err
    assert cli.tokens_file.stat().st_mode & 0o777 == 0o600

    me = json.loads(cli.run("whoami", "-o", "json").stdout)
    assert me["user"] == "einstein" and me["auth"] == "oidc" and me["context"] == "dev"
    status = cli.run("auth", "status").stdout
    assert "OpenID Connect" in status and str(cli.tokens_file) in status
    assert "PLAIN TEXT" in status and "signed in as" in status

    first = cli.stored_tokens("dev")
    time.sleep(4.5)                                    # the 4 s access token has expired
    local = tmp_path / "hello.txt"
    local.write_text("hello from a token\n")
    cli.run("put", str(local), "/")                    # refreshed silently before the PUT
    second = cli.stored_tokens("dev")
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    assert [e["name"] for e in json.loads(cli.run("ls", "/", "-o", "json").stdout)] == ["hello.txt"]

    token = cli.run("auth", "token").stdout.strip()
    answer = requests.get(f"{idp_server.url}/graph/v1.0/me",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["onPremisesSamAccountName"] == "einstein"

    out = cli.run("logout").stderr
    assert "Logged out" in out
    assert "dev" not in cli.tokens_file.read_text()
    assert cli.run("whoami", expect=None).returncode == ExitCode.NOT_INITIALISED
    # logout revoked the refresh token at the provider: it cannot mint new access tokens
    assert "revoked" in out
    latest = second["refresh_token"]
    refused = requests.post(f"{idp_server.url}/konnect/v1/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": latest, "client_id": "ocis-cli"})
    assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_grant"


def device_login(cli: LiveCli, url: str, context: str, user: str, password: str) -> None:
    proc = cli.start("login", url, "--device", "--context-name", context)
    found = proc.read_until(r"one-time code: (\S+)\n.*?open (\S+) in a browser")
    act_as_person(found.group(2), user, password, found.group(1))
    code, err = proc.finish()
    assert code == 0, err


@pytest.mark.slow
def test_a_refused_token_is_refreshed_and_the_request_repeated(idp_server: Any,
                                                               tmp_path: Path) -> None:
    import tomlkit

    cli = LiveCli(idp_server.env, tmp_path)
    device_login(cli, idp_server.url, "par", "marie", "radioactivity")
    # The client believes its token is good for an hour, but the server refuses it (here: a
    # damaged signature): the request gets a 401, the client refreshes once and repeats it.
    doc = tomlkit.parse(cli.tokens_file.read_text())
    tokens = doc["contexts"]["par"]["tokens"]
    tokens["expires_at"] = time.time() + 3600
    head, payload, signature = str(tokens["access_token"]).split(".")
    tokens["access_token"] = f"{head}.{payload}.{signature[::-1]}"
    cli.tokens_file.write_text(tomlkit.dumps(doc))
    before = cli.stored_tokens("par")
    assert json.loads(cli.run("whoami", "-o", "json").stdout)["user"] == "marie"
    after = cli.stored_tokens("par")
    assert after["access_token"] != before["access_token"]
    assert after["expires_at"] < time.time() + 60
    assert cli.run("whoami").returncode == 0

    # Once the provider has revoked the session, the CLI says to log in again (exit 4).
    revoked = requests.post(f"{idp_server.url}/konnect/v1/revocation", timeout=10, data={
        "token": after["refresh_token"], "token_type_hint": "refresh_token",
        "client_id": "ocis-cli"})
    assert revoked.status_code == 200
    doc = tomlkit.parse(cli.tokens_file.read_text())
    doc["contexts"]["par"]["tokens"]["expires_at"] = 0
    cli.tokens_file.write_text(tomlkit.dumps(doc))
    refused = cli.run("whoami", expect=ExitCode.AUTH)
    assert "session has ended" in refused.stderr and "ocis login" in refused.stderr
    status = json.loads(cli.run("auth", "status", "-o", "json", expect=ExitCode.AUTH).stdout)
    assert status["status"].startswith("REJECTED") and status["method"] == "OpenID Connect"
    assert "PLAIN TEXT" in status["credentials"]


@pytest.mark.slow
async def test_two_clients_refreshing_at_once_spend_the_refresh_token_once(
        idp_server: Any, tmp_path: Path) -> None:
    """Two processes (here two BearerAuth objects over the same store) refresh the same token at
    the same moment. The IdP revokes a refresh-token family when a rotated token is reused, so
    without the store's lock one of them would end the session for both."""
    import asyncio

    from ocis_cli.client import BearerAuth
    from ocis_cli.credentials import ContextKeeper

    cli = LiveCli(idp_server.env, tmp_path)
    device_login(cli, idp_server.url, "twin", "richard", "superfluidity")
    store = CredentialStore(cli.tokens_file)
    stored = store.load("twin", FILE)
    assert stored is not None

    def client() -> BearerAuth:
        return BearerAuth(oidc.TokenSet.from_dict(stored.tokens),
                          token_endpoint=stored.token_endpoint, client_id=stored.client_id,
                          keeper=ContextKeeper(store, "twin", FILE, stored))

    first, second = client(), client()
    stale = stored.tokens["access_token"]
    async with aiohttp.ClientSession() as session:
        done = await asyncio.gather(first.refresh(session, stale=stale),
                                    second.refresh(session, stale=stale))
    assert done == [True, True]
    assert first.tokens.access_token == second.tokens.access_token != stale
    latest = store.load("twin", FILE)
    assert latest is not None and latest.tokens["access_token"] == first.tokens.access_token
    async with aiohttp.ClientSession() as session, session.post(stored.token_endpoint, data={
            "grant_type": "refresh_token", "refresh_token": latest.tokens["refresh_token"],
            "client_id": "ocis-cli"}) as alive:
        assert alive.status == 200, await alive.text()


@pytest.mark.slow
async def test_discovery_goes_through_webfinger_to_the_issuer(idp_server: Any) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{idp_server.url}/.well-known/webfinger",
                               params={"resource": idp_server.url}) as resp:
            links = (await resp.json())["links"]
        assert {"rel": oidc.ISSUER_REL, "href": idp_server.url} in [
            {"rel": link["rel"], "href": link["href"]} for link in links]
        provider = await oidc.discover(session, idp_server.url + "/")
    assert provider.issuer == idp_server.url
    assert provider.device_authorization_endpoint.startswith(idp_server.url)
    assert provider.revocation_endpoint and provider.jwks_uri


@pytest.mark.slow
def test_device_login_nobody_approves_exits_4(idp_server: Any, tmp_path: Path) -> None:
    cli = LiveCli(idp_server.env, tmp_path)
    proc = cli.run("login", idp_server.url, "--device", "--timeout", "2", expect=ExitCode.AUTH)
    assert "one-time code" in proc.stderr and "not approved within 2 s" in proc.stderr
    assert not cli.tokens_file.exists()
    assert not (tmp_path / "cli-xdg" / "ocis" / "config.toml").exists()


@pytest.mark.slow
def test_pkce_loopback_login(idp_server: Any, tmp_path: Path) -> None:
    cli = LiveCli(idp_server.env, tmp_path)
    proc = cli.start("login", idp_server.url, "--no-browser", "--context-name", "pkce")
    found = proc.read_until(r"to sign in:\n\s+(\S+)\n")
    url = found.group(1)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["ocis-cli"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", query["redirect_uri"][0])
    final = act_as_person(url, "marie", "radioactivity")
    assert final.url.startswith(query["redirect_uri"][0]) and "Signed in" in final.text
    code, err = proc.finish()
    assert code == 0, err
    assert json.loads(cli.run("whoami", "-o", "json").stdout)["user"] == "marie"
    assert cli.run("--context", "pkce", "spaces", "ls").returncode == 0


def test_read_until_reports_missing_output() -> None:
    script = "import sys; print('nothing', file=sys.stderr)"
    proc = Running(subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE,
                                    text=True))
    with pytest.raises(AssertionError, match="nothing"):
        proc.read_until(r"never", timeout=5)
    proc.proc.wait()
