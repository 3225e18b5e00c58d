"""A read-only data folder (a read-only bind mount: root ignores permission bits): the server
starts in read-only mode, says so in its log and in `ocis health` (degraded, exit 7), serves reads
to curl and answers every write 503 with Retry-After; once the folder takes writes again it
leaves read-only mode by itself (storage and user store), without a restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import STOP_TIMEOUT

CONTENT = b"written while the folder was writable\n"


def _curl(*args: str) -> tuple[str, str]:
    """(status, headers) of one curl call as admin."""
    done = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}",
                           "--max-time", "20", "-u", "admin:admin", *args],
                          capture_output=True, text=True, timeout=30, check=False)
    return done.stdout[-3:], done.stdout[:-3]


def _graph_post(url: str, path: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": "Basic YWRtaW46YWRtaW4=",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _mount_read_only(source: Path, target: Path) -> None:
    target.mkdir()
    for cmd in (["mount", "--bind", str(source), str(target)],
                ["mount", "-o", "remount,ro,bind", str(target)]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed (tests run as root): {done.stderr}")


@pytest.mark.slow
def test_a_read_only_data_folder_serves_reads_and_refuses_writes(
        real_server_factory, tmp_path: Path) -> None:
    with real_server_factory(tmp_path / "srv") as server:          # a normal first life
        request = urllib.request.Request(f"{server.url}/remote.php/webdav/kept.txt", data=CONTENT,
                                         method="PUT")
        request.add_header("Authorization", "Basic YWRtaW46YWRtaW4=")
        with urllib.request.urlopen(request, timeout=20) as resp:
            assert resp.status in (201, 204)
        env = dict(server.env)
    read_only = tmp_path / "ro"
    _mount_read_only(tmp_path / "srv" / "data", read_only)
    log_path = tmp_path / "ro-server.log"
    env["OCIS_BASE_DATA_PATH"] = str(read_only)
    env["OCIS_LOG_LEVEL"] = "info"
    env["OCIS_RUNTIME_MAX_RESTART_BACKOFF"] = "2"     # the degraded unit is looked at often
    url = env["OCIS_URL"]
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=env,
                                    cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                try:
                    with urllib.request.urlopen(f"{url}/status.php", timeout=2):
                        break
                except (urllib.error.URLError, OSError):
                    time.sleep(0.2)
            log_text = log_path.read_text()
            assert "starts in read-only mode" in log_text, log_text[-3000:]
            # reads: download, listing
            status, _ = _curl("-o", "/dev/null", f"{url}/remote.php/webdav/kept.txt")
            assert status == "200"
            got = subprocess.run(["curl", "-sS", "-u", "admin:admin",
                                  f"{url}/remote.php/webdav/kept.txt"], capture_output=True,
                                 timeout=30, check=True).stdout
            assert got == CONTENT
            assert _curl("-X", "PROPFIND", "-H", "Depth: 1", f"{url}/remote.php/webdav/")[0] == "207"
            # writes: 503 with Retry-After, never 500
            payload = tmp_path / "new.txt"
            payload.write_bytes(b"new")
            for args in (["-T", str(payload), f"{url}/remote.php/webdav/new.txt"],
                         ["-X", "MKCOL", f"{url}/remote.php/webdav/folder"],
                         ["-X", "DELETE", f"{url}/remote.php/webdav/kept.txt"],
                         ["-X", "POST", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: 3",
                          "-H", "Upload-Metadata: filename dHVzLnR4dA==",   # tus.txt
                          f"{url}/remote.php/dav/files/admin/"]):
                status, headers = _curl(*args)
                assert status == "503", (args, status, headers)
                assert "retry-after:" in headers.lower(), (args, headers)
            assert _curl("-o", "/dev/null", f"{url}/remote.php/webdav/kept.txt")[0] == "200"
            health = subprocess.run([sys.executable, "-m", "ocis_cli", "health"], env=env,
                                    capture_output=True, text=True, timeout=60, check=False)
            assert health.returncode == 7 and health.stdout.startswith("degraded"), health
            assert "read-only" in health.stderr, health.stderr
            user = {"onPremisesSamAccountName": "late", "displayName": "Late",
                    "mail": "late@example.org", "passwordProfile": {"password": "Late-pass-1"}}
            assert _graph_post(url, "/graph/v1.0/users", user) == 503
            assert proc.poll() is None

            # the folder takes writes again: read-write without a restart
            done = subprocess.run(["mount", "-o", "remount,rw,bind", str(read_only)],
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
            deadline = time.monotonic() + 60
            while True:
                health = subprocess.run([sys.executable, "-m", "ocis_cli", "health"], env=env,
                                        capture_output=True, text=True, timeout=60, check=False)
                if health.returncode == 0:
                    break
                assert time.monotonic() < deadline, (health.stdout, health.stderr)
                time.sleep(1)
            assert _curl("-T", str(payload), f"{url}/remote.php/webdav/new.txt")[0] == "201"
            assert _curl("-X", "MKCOL", f"{url}/remote.php/webdav/folder")[0] == "201"
            deadline = time.monotonic() + 30      # the user store looks again every few seconds
            while (status := _graph_post(url, "/graph/v1.0/users", user)) == 503:
                assert time.monotonic() < deadline
                time.sleep(1)
            assert status == 201
            assert "read-only mode ended" in log_path.read_text()
            assert proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=STOP_TIMEOUT)
    finally:
        if subprocess.run(["umount", str(read_only)], check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", str(read_only)], check=False)   # never left mounted
