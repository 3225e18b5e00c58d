"""Off-the-shelf relying parties against the embedded IdP: ../shared/tools/oidc_rp_probe.py
(Authlib for code + PKCE, tokens, id_token validation, userinfo, refresh and the device grant;
pyoidc for a strict discovery parse, which insists on an https issuer: nginx fronts the server)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import RealServer, free_port, launch_real_server

from ocis_server.services.idp.clients import DESKTOP_ID, DESKTOP_SECRET

from .helpers import describe, run, shared_dir
from .tls_front import tls_front

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, RealServer]]:
    """A real server whose public URL (and so the issuer) is https://127.0.0.1:<port> via nginx."""
    workdir = tmp_path_factory.mktemp("idp-probe")
    tls_port = free_port()
    issuer = f"https://127.0.0.1:{tls_port}"
    with (launch_real_server(workdir / "srv", {"OCIS_URL": issuer}) as server,
          tls_front(workdir / "nginx", tls_port, server.port) as cert):
        yield issuer, cert, server


def probe(issuer: str, cert: Path, *extra: str) -> tuple[int, int, str]:
    script = shared_dir() / "tools" / "oidc_rp_probe.py"
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(cert)}
    proc = run([sys.executable, str(script), issuer, "--client-id", "ocis-cli",
                "--form", "username=einstein", "--form", "password=relativity", *extra],
               env=env, timeout=120)
    match = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.MULTILINE)
    assert match, describe(proc)
    return int(match[1]), int(match[2]), describe(proc)


def test_probe_code_flow_all_checks_pass(tls_server: tuple[str, Path, RealServer]) -> None:
    issuer, cert, server = tls_server
    passed, failed, output = probe(issuer, cert)
    assert failed == 0 and passed == 17, output + server.log_tail()
    assert "PASS pyoidc (oic) accepts discovery" in output
    assert "PASS refresh_token grant" in output


def test_probe_device_flow_all_checks_pass(tls_server: tuple[str, Path, RealServer]) -> None:
    issuer, cert, server = tls_server
    passed, failed, output = probe(issuer, cert, "--device")
    assert failed == 0 and passed == 20, output + server.log_tail()
    assert "PASS device poll before approval -> authorization_pending" in output


def test_client_credentials_are_not_counted_as_failed_logins(
        tls_server: tuple[str, Path, RealServer]) -> None:
    """The desktop app authenticates to the token endpoint with HTTP Basic (its client id and
    secret): the proxy must not take that for a user's wrong password and lock the address."""
    _, _, server = tls_server
    for _ in range(8):
        resp = requests.post(f"{server.url}/konnect/v1/token", auth=(DESKTOP_ID, DESKTOP_SECRET),
                             data={"grant_type": "refresh_token", "refresh_token": "stale"},
                             timeout=10)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    dav = requests.request("PROPFIND", f"{server.url}/remote.php/dav/files/einstein/",
                           auth=("einstein", "relativity"), headers={"Depth": "0"}, timeout=10)
    assert dav.status_code == 207, dav.text[:300]
