"""The LDAP user source against a real OpenLDAP slapd started by the test (Debian `slapd`):
users and groups read through ldap3 with entryUUID as the id, binds as the user, filters that
cannot be injected, the read-only default, writes when enabled, reconnecting after a restart of
the directory, and a whole embedded server whose users come from the directory."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import ldap3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ocis_server.domain.errors import NotFound, NotSupported, PermissionDenied, ServiceUnavailable
from ocis_server.identity import ldap as ldap_module
from ocis_server.identity.ldap import LdapUserStore
from ocis_server.identity.ldapconn import LdapSettings
from ocis_server.runtime import embedded_server, make_test_config

SLAPD = "/usr/sbin/slapd"
BASE = "dc=example,dc=org"
ADMIN_DN, ADMIN_PW = f"cn=admin,{BASE}", "admin"
pytestmark = pytest.mark.skipif(not (os.path.exists(SLAPD) and shutil.which("slappasswd")),
                                reason="needs Debian slapd + ldap-utils "
                                       "(scripts/install-test-tools.sh)")

CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
loglevel none
sizelimit unlimited
database mdb
maxsize 67108864
suffix "{base}"
rootdn "{admin}"
rootpw {admin_hash}
directory {dir}/db
index objectClass,uid,cn,mail,member eq
TLSCertificateFile {dir}/cert.pem
TLSCertificateKeyFile {dir}/key.pem
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


def _person(uid: str, name: str, password: str) -> str:
    sn = name.split()[-1]
    return (f"dn: uid={uid},ou=users,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\n"
            f"sn: {sn}\ndisplayName: {name}\nmail: {uid}@example.org\n"
            f"userPassword: {_hash(password)}\n\n")


def _group(cn: str, *members: str) -> str:
    lines = "".join(f"member: uid={m},ou=users,{BASE}\n" for m in members)
    return f"dn: cn={cn},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(cert_path: Path, key_path: Path) -> None:
    """A certificate for 127.0.0.1 that the LDAPS test trusts through OCIS_LDAP_CACERT."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))


def _hash(password: str) -> str:
    return subprocess.run(["slappasswd", "-s", password], capture_output=True, text=True,
                          check=True).stdout.strip()


class Slapd:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = self.tls_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def load(self) -> None:
        (self.dir / "db").mkdir(parents=True)
        _self_signed(self.dir / "cert.pem", self.dir / "key.pem")
        (self.dir / "slapd.conf").write_text(CONF.format(dir=self.dir, base=BASE, admin=ADMIN_DN,
                                                         admin_hash=_hash(ADMIN_PW)))
        data = (f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\n"
                f"dc: example\n\ndn: ou=users,{BASE}\nobjectClass: organizationalUnit\nou: users\n\n"
                f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n"
                + _person("einstein", "Albert Einstein", "relativity")
                + _person("marie", "Marie Curie", "radioactivity")
                + _person("richard", "Richard Feynman", "superfluidity")
                + _person("ein*", "Star Name", "star")
                + _group("physics-lovers", "einstein", "marie")
                + _group("sailing-lovers", "einstein")
                + _group("DisabledUsers", "richard"))
        (self.dir / "data.ldif").write_text(data)
        subprocess.run(["slapadd", "-q", "-f", str(self.dir / "slapd.conf"), "-l",
                        str(self.dir / "data.ldif")], check=True, capture_output=True)

    def start(self) -> None:
        if not self.port:
            self.port, self.tls_port = _free_port(), _free_port()
        self.proc = subprocess.Popen([SLAPD, "-f", str(self.dir / "slapd.conf"), "-h",
                                      f"{self.uri}/ {self.ldaps_uri}/", "-d", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def add_person(self, uid: str, name: str, password: str) -> None:
        conn = ldap3.Connection(ldap3.Server(self.uri), ADMIN_DN, ADMIN_PW, auto_bind=True)
        try:
            assert conn.add(f"uid={uid},ou=users,{BASE}", ["inetOrgPerson"],
                            {"uid": uid, "cn": name, "sn": name.split()[-1], "displayName": name,
                             "mail": f"{uid}@example.org", "userPassword": _hash(password)})
        finally:
            conn.unbind()

    def entry_uuid(self, uid: str) -> str:
        conn = ldap3.Connection(ldap3.Server(self.uri), ADMIN_DN, ADMIN_PW, auto_bind=True)
        try:
            conn.search(f"uid={uid},ou=users,{BASE}", "(objectClass=*)", ldap3.BASE,
                        attributes=["entryUUID"])
            return str(conn.entries[0].entryUUID.value).lower()
        finally:
            conn.unbind()


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    server.load()
    server.start()
    yield server
    server.stop()


def settings(slapd: Slapd, **changes: object) -> LdapSettings:
    base = LdapSettings(uri=slapd.uri, bind_dn=ADMIN_DN, bind_password=ADMIN_PW,
                        user_base_dn=f"ou=users,{BASE}", group_base_dn=f"ou=groups,{BASE}",
                        user_id_attr="entryUUID", group_id_attr="entryUUID",
                        disable_mechanism="group",
                        disabled_group_dn=f"cn=DisabledUsers,ou=groups,{BASE}", pool_size=2)
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def store(slapd: Slapd, tmp_path: Path) -> AsyncIterator[LdapUserStore]:
    users = await LdapUserStore.open(settings(slapd), tmp_path / "local.db")
    yield users
    await users.close()


async def test_reads_users_and_groups_with_entry_uuid(store: LdapUserStore, slapd: Slapd) -> None:
    einstein_id = slapd.entry_uuid("einstein")
    users = {u.username: u for u in await store.list()}
    assert {"einstein", "marie", "richard"} <= set(users)
    einstein = users["einstein"]
    assert (einstein.id, einstein.display_name, einstein.email, einstein.role,
            einstein.user_type) == (einstein_id, "Albert Einstein", "einstein@example.org",
                                    "user", "Member")
    assert await store.get(einstein_id) == einstein
    assert await store.get_by_name("EINSTEIN") == einstein
    groups = {g.name: g for g in await store.list_groups()}
    assert {"physics-lovers", "sailing-lovers"} <= set(groups)
    physics = groups["physics-lovers"]
    assert await store.get_group(physics.id) == physics
    assert await store.get_group_by_name("physics-lovers") == physics
    assert [u.username for u in await store.members(physics.id)] == ["einstein", "marie"]
    assert [g.name for g in await store.groups_of(einstein_id)] == ["physics-lovers",
                                                                    "sailing-lovers"]
    with pytest.raises(NotFound):
        await store.get("00000000-0000-0000-0000-000000000000")


async def test_big_groups_are_resolved_with_one_search(store: LdapUserStore,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    physics = await store.get_group_by_name("physics-lovers")
    monkeypatch.setattr(ldap_module, "_MEMBER_LOOKUPS", 1)
    assert [u.username for u in await store.members(physics.id)] == ["einstein", "marie"]


async def test_binds_as_the_user(store: LdapUserStore) -> None:
    einstein = await store.authenticate("einstein", "relativity")
    assert einstein is not None and einstein.username == "einstein"
    assert await store.authenticate("einstein", "wrong") is None
    assert await store.authenticate("einstein", "") is None      # no unauthenticated bind
    assert await store.authenticate("nobody", "relativity") is None
    assert await store.authenticate("richard", "superfluidity") is None   # in DisabledUsers


async def test_filter_input_cannot_inject(store: LdapUserStore) -> None:
    # `ein*` is a real (odd) user name: it must match only itself, never einstein
    assert (await store.get_by_name("ein*")).display_name == "Star Name"
    assert await store.authenticate("ein*", "relativity") is None
    assert await store.authenticate("ein*", "star") is not None
    for evil in ("*", "einst*", "einstein)(uid=*", "*)(|(uid=*", "\\2a"):
        assert await store.authenticate(evil, "relativity") is None
        with pytest.raises(NotFound):
            await store.get_by_name(evil)


async def test_user_filter_and_admin_id(slapd: Slapd, tmp_path: Path) -> None:
    marie_id = slapd.entry_uuid("marie")
    only = await LdapUserStore.open(settings(slapd, user_filter="(mail=marie@example.org)",
                                             admin_user_id=marie_id), tmp_path / "l.db")
    try:
        assert [(u.username, u.role) for u in await only.list()] == [("marie", "admin")]
        assert await only.authenticate("einstein", "relativity") is None
    finally:
        await only.close()


async def test_read_only_by_default_but_roles_are_local(store: LdapUserStore,
                                                        slapd: Slapd) -> None:
    for change in (store.create(username="x", password="y"),
                   store.create_group(name="g"),
                   store.set_password(slapd.entry_uuid("marie"), "new"),
                   store.delete(slapd.entry_uuid("marie"))):
        with pytest.raises(PermissionDenied):
            await change
    updated = await store.update(slapd.entry_uuid("marie"), role="spaceadmin")
    assert updated.role == "spaceadmin"
    assert (await store.get_by_name("marie")).role == "spaceadmin"
    guest = await store.update(slapd.entry_uuid("marie"), user_type="Guest")
    assert guest.is_guest
    with pytest.raises(PermissionDenied):
        await store.update(slapd.entry_uuid("marie"), display_name="M")
    await store.link_identity("https://idp.example", "sub-1", updated.id)
    assert (await store.get_by_identity("https://idp.example", "sub-1")).username == "marie"


async def test_writes_when_enabled(slapd: Slapd, tmp_path: Path) -> None:
    writer = await LdapUserStore.open(settings(slapd, write_enabled=True), tmp_path / "w.db")
    try:
        lise = await writer.create(username="lise", password="fission",
                                   display_name="Lise Meitner", email="lise@example.org")
        assert len(lise.id) == 36 and lise.display_name == "Lise Meitner"
        assert await writer.authenticate("lise", "fission") == lise
        await writer.set_password(lise.id, "nuclear")
        assert await writer.authenticate("lise", "fission") is None
        assert await writer.authenticate("lise", "nuclear") is not None
        assert (await writer.update(lise.id, display_name="L. Meitner")).display_name == (
            "L. Meitner")
        group = await writer.create_group(name="chemists", description="Chemistry")
        assert await writer.members(group.id) == []
        await writer.add_member(group.id, lise.id)
        await writer.add_member(group.id, lise.id)                  # idempotent
        assert [u.username for u in await writer.members(group.id)] == ["lise"]
        await writer.remove_member(group.id, lise.id)
        with pytest.raises(NotFound):
            await writer.remove_member(group.id, lise.id)
        await writer.add_member(group.id, lise.id)
        await writer.delete(lise.id)
        assert await writer.members(group.id) == []
        with pytest.raises(NotFound):
            await writer.get_by_name("lise")
        await writer.delete_group(group.id)
        with pytest.raises(NotFound):
            await writer.get_group(group.id)
    finally:
        await writer.close()


async def test_ldaps_verifies_the_server_certificate(slapd: Slapd, tmp_path: Path) -> None:
    trusted = await LdapUserStore.open(settings(slapd, uri=slapd.ldaps_uri,
                                                cacert=str(slapd.dir / "cert.pem")),
                                       tmp_path / "t.db")
    try:
        assert await trusted.authenticate("marie", "radioactivity") is not None
    finally:
        await trusted.close()
    with pytest.raises(ServiceUnavailable):  # the system CAs do not know this certificate
        await LdapUserStore.open(settings(slapd, uri=slapd.ldaps_uri), tmp_path / "u.db")
    insecure = await LdapUserStore.open(settings(slapd, uri=slapd.ldaps_uri, insecure=True),
                                        tmp_path / "i.db")
    try:
        assert [g.name for g in await insecure.list_groups()][:1] == ["DisabledUsers"]
    finally:
        await insecure.close()


async def test_reconnects_after_the_directory_restarts(store: LdapUserStore,
                                                       slapd: Slapd) -> None:
    assert (await store.get_by_name("marie")).username == "marie"     # pooled connection open
    slapd.stop()
    try:
        with pytest.raises(ServiceUnavailable):     # 503, Retry-After: it may come back
            await store.get_by_name("marie")
    finally:
        slapd.start()
    assert (await store.get_by_name("marie")).username == "marie"
    assert await store.authenticate("marie", "radioactivity") is not None


async def test_server_takes_its_users_from_the_directory(slapd: Slapd, tmp_path: Path) -> None:
    einstein_id = slapd.entry_uuid("einstein")
    config = make_test_config(
        tmp_path, demo_users=False, OCIS_LDAP_URI=slapd.uri, OCIS_LDAP_BIND_DN=ADMIN_DN,
        OCIS_LDAP_BIND_PASSWORD=ADMIN_PW, OCIS_LDAP_USER_BASE_DN=f"ou=users,{BASE}",
        OCIS_LDAP_GROUP_BASE_DN=f"ou=groups,{BASE}", OCIS_LDAP_USER_SCHEMA_ID="entryUUID",
        OCIS_LDAP_GROUP_SCHEMA_ID="entryUUID", OCIS_LDAP_DISABLE_USER_MECHANISM="none",
        OCIS_ADMIN_USER_ID=einstein_id, OCIS_RUNTIME_HEALTH_INTERVAL="0.2")
    einstein = aiohttp.BasicAuth("einstein", "relativity")
    async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
        async with http.request("PROPFIND", f"{srv.url}/remote.php/dav/files/einstein/",
                                auth=einstein, headers={"Depth": "0"}) as resp:
            assert resp.status == 207
        async with http.get(f"{srv.url}/graph/v1.0/me", params={"$expand": "memberOf"},
                            auth=einstein) as resp:
            me = await resp.json()
        assert me["id"] == einstein_id
        assert sorted(g["displayName"] for g in me["memberOf"]) == ["physics-lovers",
                                                                    "sailing-lovers"]
        async with http.get(f"{srv.url}/graph/v1.0/me",
                            auth=aiohttp.BasicAuth("marie", "wrong")) as resp:
            assert resp.status == 401
        # einstein is the configured admin: he may list everyone, but the directory is read-only
        async with http.get(f"{srv.url}/graph/v1.0/users", auth=einstein) as resp:
            names = {u["onPremisesSamAccountName"] for u in (await resp.json())["value"]}
        assert {"einstein", "marie", "richard"} <= names and "admin" not in names
        async with http.post(f"{srv.url}/graph/v1.0/users", auth=einstein,
                             json={"onPremisesSamAccountName": "x",
                                   "passwordProfile": {"password": "y"}}) as resp:
            assert resp.status == 403
            assert "read-only" in (await resp.json())["error"]["message"]
        # someone added to the directory later can log in and finds a personal space
        slapd.add_person("emmy", "Emmy Noether", "symmetry")
        emmy = aiohttp.BasicAuth("emmy", "symmetry")
        status, deadline = 0, time.monotonic() + 10
        while status != 207 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            async with http.request("PROPFIND", f"{srv.url}/remote.php/dav/files/emmy/",
                                    auth=emmy, headers={"Depth": "0"}) as resp:
                status = resp.status
        assert status == 207



async def test_accounts_are_disabled_by_group_or_attribute(slapd: Slapd, tmp_path: Path) -> None:
    """oCIS's disable mechanisms: membership of the disabled users group, or an attribute that is
    FALSE (`ownCloudUserEnabled` in oCIS's schema; `employeeType` here, as this slapd has only
    the standard schemas). Read-only directories show the state and refuse to change it."""
    reader = await LdapUserStore.open(settings(slapd), tmp_path / "r.db")
    writer = await LdapUserStore.open(settings(slapd, write_enabled=True), tmp_path / "w.db")
    by_attr = await LdapUserStore.open(settings(slapd, write_enabled=True,
                                                disable_mechanism="attribute",
                                                enabled_attr="employeeType"), tmp_path / "a.db")
    unable = await LdapUserStore.open(settings(slapd, write_enabled=True,
                                               disable_mechanism="none"), tmp_path / "n.db")
    try:
        richard = await reader.get_by_name("richard")        # in cn=DisabledUsers from the start
        assert not richard.enabled
        assert {u.username: u.enabled for u in await reader.list()}["richard"] is False
        assert await reader.authenticate("richard", "superfluidity") is None
        with pytest.raises(PermissionDenied):
            await reader.update(richard.id, enabled=True)
        otto = await writer.create(username="otto", password="fission-1", display_name="Otto")
        assert otto.enabled
        assert not (await writer.update(otto.id, enabled=False)).enabled
        assert await writer.authenticate("otto", "fission-1") is None
        assert not (await reader.get_by_name("otto")).enabled       # another reader sees it
        assert (await writer.update(otto.id, enabled=True)).enabled
        assert await writer.authenticate("otto", "fission-1") is not None
        assert not (await by_attr.update(otto.id, enabled=False)).enabled
        assert await by_attr.authenticate("otto", "fission-1") is None
        assert {u.username: u.enabled for u in await by_attr.list()}["otto"] is False
        assert (await by_attr.update(otto.id, enabled=True)).enabled
        assert await by_attr.authenticate("otto", "fission-1") is not None
        with pytest.raises(NotSupported):
            await unable.update(otto.id, enabled=False)
        await writer.delete(otto.id)
    finally:
        for store_ in (reader, writer, by_attr, unable):
            await store_.close()
