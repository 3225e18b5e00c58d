"""An external LDAP directory that hangs (slapd under SIGSTOP): requests that need it answer 503
with Retry-After after a bounded time-out, the server stays up and says `degraded` (`ocis health`
exits 7), curl keeps being served for a user it already knows, and after SIGCONT everything
recovers by itself."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from tests.clients.test_ldap_source import ADMIN_DN, ADMIN_PW, BASE, Slapd, slapd  # noqa: F401

TIMEOUT = 2.0          # USERS_LDAP_TIMEOUT of the server under test


def _propfind(url: str, user: str, password: str) -> tuple[int, str, float]:
    """(status, Retry-After, seconds it took) of a Depth 0 PROPFIND of the user's home."""
    auth = b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"{url}/remote.php/dav/files/{user}/", method="PROPFIND",
                                     headers={"Authorization": f"Basic {auth}", "Depth": "0"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, "", time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After", ""), time.monotonic() - started


def _curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                           "20", "-u", "einstein:relativity", *args], capture_output=True,
                          text=True, timeout=30, check=False).stdout


def _until(what: str, predicate, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.3)


@pytest.mark.slow
def test_a_hanging_directory_degrades_the_server_and_it_recovers(
        slapd: Slapd, real_server_factory, tmp_path: Path) -> None:  # noqa: F811
    env = {"OCIS_LDAP_URI": slapd.uri, "OCIS_LDAP_BIND_DN": ADMIN_DN,
           "OCIS_LDAP_BIND_PASSWORD": ADMIN_PW, "OCIS_LDAP_USER_BASE_DN": f"ou=users,{BASE}",
           "OCIS_LDAP_GROUP_BASE_DN": f"ou=groups,{BASE}", "OCIS_LDAP_USER_SCHEMA_ID": "entryUUID",
           "OCIS_LDAP_GROUP_SCHEMA_ID": "entryUUID", "OCIS_LDAP_DISABLE_USER_MECHANISM": "none",
           "OCIS_ADMIN_USER_ID": slapd.entry_uuid("einstein"), "USERS_LDAP_TIMEOUT": str(TIMEOUT),
           "OCIS_RUNTIME_HEALTH_INTERVAL": "0.5", "OCIS_RUNTIME_MAX_RESTART_BACKOFF": "1",
           "OCIS_RUNTIME_MAX_FAILURES": "2", "OCIS_LOG_LEVEL": "info"}
    with real_server_factory(tmp_path / "srv", env) as server:
        payload = tmp_path / "notes.txt"
        payload.write_text("written before the directory hung\n")
        file_url = f"{server.url}/remote.php/webdav/notes.txt"
        assert _curl("-T", str(payload), file_url) == "201"
        assert server.ocis("health").returncode == 0
        assert slapd.proc is not None
        slapd.proc.send_signal(signal.SIGSTOP)
        hung_at = time.monotonic()
        try:
            # marie has not signed in yet: her login needs the directory
            status, retry_after, took = _propfind(server.url, "marie", "radioactivity")
            assert status == 503 and int(retry_after) >= 1, (status, retry_after)
            assert took < 2 * TIMEOUT + 3, took                  # bounded, not held for good
            print(f"\nwith the directory stopped, a login needing it answered 503 in {took:.1f} s")
            health = _until("ocis health says degraded", lambda: (
                result if (result := server.ocis("health")).returncode == 7 else None), 20)
            assert health.stdout.startswith("degraded:")
            assert "users" in health.stderr and "degraded" in health.stderr
            # curl, for a user the server already knows, keeps being served meanwhile
            assert _curl(file_url) == "200"
            # and the process outlives many more failures than OCIS_RUNTIME_MAX_FAILURES
            time.sleep(max(0.0, 8 - (time.monotonic() - hung_at)))
            assert server.process.poll() is None
            assert _propfind(server.url, "marie", "radioactivity")[0] == 503
        finally:
            slapd.proc.send_signal(signal.SIGCONT)
        _until("marie signs in after SIGCONT",
               lambda: _propfind(server.url, "marie", "radioactivity")[0] == 207, 20)
        _until("ocis health healthy again", lambda: server.ocis("health").returncode == 0, 20)
        assert server.process.poll() is None
        log = server.log_tail(1_000_000)
        assert "service users degraded" in log and "service users recovered" in log, log[-3000:]
        assert "giving up" not in log
