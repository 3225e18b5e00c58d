"""ldapsearch and ldapwhoami (OpenLDAP's ldap-utils) against the idm of a real `ocis server`: over
LDAPS and over plain LDAP with StartTLS (-ZZ), verifying the certificate `ocis init` created."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RealServer, free_port, launch_real_server

from .helpers import require_tool

pytestmark = pytest.mark.slow
USERS = "ou=users,o=libregraph-idm"
EINSTEIN = f"uid=einstein,{USERS}"


@dataclass
class Ldap:
    server: RealServer
    ldaps: str
    ldap: str
    env: dict[str, str]

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([require_tool(tool), *args], env=self.env, capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)


def graph(server: RealServer, method: str, path: str, body: object | None = None) -> object:
    token = base64.b64encode(f"{server.admin_user}:{server.admin_password}".encode()).decode()
    request = urllib.request.Request(f"{server.url}/graph/v1.0{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Basic {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def ldap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ldap]:
    workdir = tmp_path_factory.mktemp("idm-real")
    ldaps_port, ldap_port = free_port(), free_port()
    env = {"IDM_LDAPS_ADDR": f"127.0.0.1:{ldaps_port}", "IDM_LDAP_ADDR": f"127.0.0.1:{ldap_port}"}
    with launch_real_server(workdir, env) as server:
        users = graph(server, "GET", "/users")      # the server answers; physics-lovers is
        assert isinstance(users, dict)             # one of oCIS's demo groups
        cert = workdir / "data" / "idm" / "ldap.crt"
        client_env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
        client_env.update({"LDAPTLS_CACERT": str(cert), "LDAPTLS_REQCERT": "demand",
                           "HOME": str(workdir)})
        yield Ldap(server, f"ldaps://127.0.0.1:{ldaps_port}", f"ldap://127.0.0.1:{ldap_port}",
                   client_env)


def ldif(text: str) -> list[dict[str, list[str]]]:
    """`ldapsearch -LLL` output -> entries (no line folding: -o ldif-wrap=no)."""
    entries: list[dict[str, list[str]]] = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, list[str]] = {}
        for line in block.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition(": ")
                entry.setdefault(name, []).append(value)
        if entry:
            entries.append(entry)
    return entries


def test_ldapwhoami_over_ldaps_and_starttls(ldap: Ldap) -> None:
    ldaps = ldap.run("ldapwhoami", "-x", "-H", ldap.ldaps, "-D", EINSTEIN, "-w", "relativity")
    assert ldaps.returncode == 0, ldaps.stderr
    assert ldaps.stdout.strip() == f"dn:{EINSTEIN}"
    starttls = ldap.run("ldapwhoami", "-x", "-ZZ", "-H", ldap.ldap, "-D", EINSTEIN,
                        "-w", "relativity")
    assert starttls.returncode == 0, starttls.stderr
    assert starttls.stdout.strip() == f"dn:{EINSTEIN}"


def test_wrong_password_and_cleartext_bind_are_refused(ldap: Ldap) -> None:
    wrong = ldap.run("ldapwhoami", "-x", "-H", ldap.ldaps, "-D", EINSTEIN, "-w", "nope")
    assert wrong.returncode == 49 and "Invalid credentials" in wrong.stderr
    clear = ldap.run("ldapwhoami", "-x", "-H", ldap.ldap, "-D", EINSTEIN, "-w", "relativity")
    assert clear.returncode == 13 and "Confidentiality required" in clear.stderr
    anonymous = ldap.run("ldapsearch", "-x", "-H", ldap.ldaps, "-b", USERS, "(uid=*)")
    assert anonymous.returncode == 48


def test_ldapsearch_reads_users(ldap: Ldap) -> None:
    result = ldap.run("ldapsearch", "-x", "-H", ldap.ldaps, "-D", EINSTEIN, "-w", "relativity",
                      "-b", USERS, "-LLL", "-o", "ldif-wrap=no",
                      "(&(objectClass=inetOrgPerson)(|(uid=mar*)(mail=richard@*)))",
                      "uid", "mail", "ownCloudUUID", "ownCloudUserType")
    assert result.returncode == 0, result.stderr
    entries = {e["dn"][0]: e for e in ldif(result.stdout)}
    assert set(entries) == {f"uid=marie,{USERS}", f"uid=richard,{USERS}"}
    marie = entries[f"uid=marie,{USERS}"]
    assert marie["mail"] == ["marie@example.org"]
    assert marie["ownCloudUserType"] == ["Member"]
    assert len(marie["ownCloudUUID"][0]) == 36


def test_ldapsearch_reads_groups_with_starttls_and_paging(ldap: Ldap) -> None:
    groups = ldap.run("ldapsearch", "-x", "-ZZ", "-H", ldap.ldap, "-D", EINSTEIN,
                      "-w", "relativity", "-b", "ou=groups,o=libregraph-idm", "-LLL",
                      "-o", "ldif-wrap=no", "(cn=physics-lovers)", "cn", "member")
    assert groups.returncode == 0, groups.stderr
    (group,) = ldif(groups.stdout)
    assert set(group["member"]) == {EINSTEIN, f"uid=marie,{USERS}", f"uid=richard,{USERS}"}
    paged = ldap.run("ldapsearch", "-x", "-H", ldap.ldaps, "-D", EINSTEIN, "-w", "relativity",
                     "-b", USERS, "-s", "one", "-E", "pr=2/noprompt", "-o", "ldif-wrap=no",
                     "(objectClass=person)", "uid")
    assert paged.returncode == 0, paged.stderr
    uids = {e["uid"][0] for e in ldif(paged.stdout) if "uid" in e}
    assert uids == {"admin", "einstein", "marie", "moss", "richard", "katherine"}
    assert paged.stdout.count("pagedresults: estimate=6") == 3      # three pages of two


def test_ldapcompare_and_writes(ldap: Ldap) -> None:
    same = ldap.run("ldapcompare", "-x", "-H", ldap.ldaps, "-D", EINSTEIN, "-w", "relativity",
                    f"uid=marie,{USERS}", "mail:marie@example.org")
    assert same.returncode == 6 and "TRUE" in same.stdout
    change = subprocess.run(
        [require_tool("ldapmodify"), "-x", "-H", ldap.ldaps, "-D", EINSTEIN, "-w", "relativity"],
        input=f"dn: {EINSTEIN}\nchangetype: modify\nreplace: mail\nmail: x@example.org\n",
        env=ldap.env, capture_output=True, text=True, timeout=30, check=False)
    assert change.returncode == 53 and "unwilling" in change.stderr.lower()


def test_certificate_is_the_one_ocis_init_wrote(ldap: Ldap) -> None:
    cert = Path(ldap.env["LDAPTLS_CACERT"])
    assert cert.is_file()
    stranger = dict(ldap.env, LDAPTLS_CACERT="/etc/ssl/certs/ca-certificates.crt")
    refused = subprocess.run([require_tool("ldapwhoami"), "-x", "-H", ldap.ldaps, "-D", EINSTEIN,
                              "-w", "relativity"], env=stranger, capture_output=True, text=True,
                             timeout=30, check=False)
    assert refused.returncode != 0          # a client that does not trust it does not talk
