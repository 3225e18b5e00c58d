"""idm, the embedded LDAP server, as ldap3 sees it: bind over LDAPS and StartTLS, the
o=libregraph-idm tree built from the user store, the filter grammar, scopes, attribute selection,
limits, paged results, compare, WhoAmI, and writes refused."""

from __future__ import annotations

import asyncio
import ssl
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from ldap3 import BASE, LEVEL, MODIFY_REPLACE, SUBTREE, Connection, Server, Tls
from ldap3.utils.conv import escape_filter_chars

from ocis_server.runtime import embedded_server, make_test_config

BASE_DN = "o=libregraph-idm"
USERS = f"ou=users,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"
EINSTEIN = f"uid=einstein,{USERS}"
T = TypeVar("T")
# one server for the module (read-only tests); tests that change state start their own
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Idm:
    ldaps_port: int
    ldap_port: int
    cert: Path
    ctx: Any
    config: Any

    def server(self, *, plain: bool = False) -> Server:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.cert))
        if plain:
            return Server("127.0.0.1", port=self.ldap_port, tls=tls, connect_timeout=5)
        return Server("127.0.0.1", port=self.ldaps_port, use_ssl=True, tls=tls, connect_timeout=5)

    def connect(self, user: str | None = EINSTEIN, password: str = "relativity") -> Connection:
        conn = Connection(self.server(), user, password if user else None, receive_timeout=10)
        assert conn.bind(), conn.result
        return conn


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """ldap3 is synchronous and the server runs in this loop: talk to it from a thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@asynccontextmanager
async def start_idm(tmp_path: Path, **env: str) -> AsyncIterator[Idm]:
    config = make_test_config(tmp_path, IDM_LDAP_ADDR="127.0.0.1:0", **env)
    async with embedded_server(config, only=["idm"]) as srv:
        users = srv.ctx.users
        for group in await users.list_groups():      # these tests make groups of their own,
            await users.delete_group(group.id)       # not oCIS's demo groups
        physics = await users.create_group(name="physics-lovers", description="E=mc2")
        await users.add_member(physics.id, (await users.get_by_name("einstein")).id)
        await users.add_member(physics.id, (await users.get_by_name("marie")).id)
        await users.create_group(name="sailing-lovers")
        await users.create(username="guest1", password="", display_name="Visiting Guest",
                           email="guest@elsewhere.example", user_type="Guest")
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server     # type: ignore[attr-defined]
        yield Idm(server.ldaps_port, server.ldap_port, server.settings.cert, srv.ctx, srv.config)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def idm(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Idm]:
    async with start_idm(tmp_path_factory.mktemp("idm")) as value:
        yield value


def search(conn: Connection, base: str, flt: str, scope: str = SUBTREE,
           attributes: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
    conn.search(base, flt, scope, attributes=attributes or ["*"], **kwargs)
    return [r for r in conn.response if r["type"] == "searchResEntry"]


def dns(entries: list[dict[str, Any]]) -> set[str]:
    return {e["dn"] for e in entries}


# --- bind, whoami -----------------------------------------------------------------------------

async def test_bind_with_the_users_password_and_whoami(idm: Idm) -> None:
    def run() -> tuple[str | None, bool, str]:
        conn = idm.connect()
        who = conn.extend.standard.who_am_i()
        bad = Connection(idm.server(), EINSTEIN, "wrong")
        return who, bad.bind(), bad.result["description"]

    who, ok, why = await call(run)
    assert who == f"dn:{EINSTEIN}"
    assert (ok, why) == (False, "invalidCredentials")


async def test_unknown_dn_and_bad_dn_are_just_invalid_credentials(idm: Idm) -> None:
    def run() -> list[str]:
        out = []
        for dn in (f"uid=nobody,{USERS}", "not a dn", f"cn=physics-lovers,{GROUPS}"):
            conn = Connection(idm.server(), dn, "relativity")
            conn.bind()
            out.append(conn.result["description"])
        return out

    assert await call(run) == ["invalidCredentials"] * 3


async def test_anonymous_bind_refused_by_default(idm: Idm) -> None:
    def run() -> tuple[bool, str, str]:
        conn = Connection(idm.server())
        ok = conn.bind()
        why = conn.result["description"]
        conn.search(BASE_DN, "(objectClass=*)")        # unbound: no reading either
        return ok, why, conn.result["description"]

    ok, why, search_result = await call(run)
    assert (ok, why) == (False, "inappropriateAuthentication")
    assert search_result == "insufficientAccessRights"


async def test_anonymous_reads_when_configured(tmp_path: Path) -> None:
    async with start_idm(tmp_path, IDM_ALLOW_ANONYMOUS_BIND="true") as idm:
        def run() -> tuple[str | None, set[str]]:
            conn = idm.connect(None)
            return conn.extend.standard.who_am_i(), dns(search(conn, USERS, "(uid=marie)"))

        who, found = await call(run)
        assert not who
        assert found == {f"uid=marie,{USERS}"}


async def test_service_accounts_bind_with_their_configured_passwords(idm: Idm) -> None:
    passwords = tomllib.loads(idm.config.config_file.read_text())["idm"]["service_user_passwords"]
    assert idm.config.idm_idp_password == passwords["idp_password"]

    def run() -> tuple[bool, bool, int]:
        good = Connection(idm.server(), f"uid=idp,ou=sysusers,{BASE_DN}", passwords["idp_password"])
        bad = Connection(idm.server(), f"uid=reva,ou=sysusers,{BASE_DN}", passwords["idp_password"])
        ok = good.bind()
        entries = search(good, USERS, "(objectClass=inetOrgPerson)")
        return ok, bad.bind(), len(entries)

    ok, wrong, count = await call(run)
    assert ok and not wrong
    assert count == 7     # admin, five demo users, the guest


async def test_password_guessing_is_throttled(tmp_path: Path) -> None:
    async with start_idm(tmp_path) as idm:
        await _guessing(idm)


async def _guessing(idm: Idm) -> None:
    def run() -> tuple[list[str], bool, bool]:
        results = []
        for _ in range(5):
            conn = Connection(idm.server(), f"uid=marie,{USERS}", "guess")
            conn.bind()
            results.append(conn.result["description"])
        locked = Connection(idm.server(), f"uid=marie,{USERS}", "radioactivity").bind()
        other = Connection(idm.server(), EINSTEIN, "relativity").bind()
        return results, locked, other

    results, locked, other = await call(run)
    assert results == ["invalidCredentials"] * 5
    assert not locked        # the right password no longer works for a while
    assert other             # other accounts are not affected


async def test_starttls_on_the_plain_listener(idm: Idm) -> None:
    def run() -> tuple[str, bool, str | None]:
        before = Connection(idm.server(plain=True), EINSTEIN, "relativity")
        before.bind()
        conn = Connection(idm.server(plain=True), EINSTEIN, "relativity")
        conn.open()
        assert conn.start_tls()
        return before.result["description"], conn.bind(), conn.extend.standard.who_am_i()

    refused, ok, who = await call(run)
    assert refused == "confidentialityRequired"     # no password in the clear
    assert ok and who == f"dn:{EINSTEIN}"


# --- the tree ---------------------------------------------------------------------------------

async def test_users_are_inetorgpersons_with_owncloud_attributes(idm: Idm) -> None:
    einstein = await idm.ctx.users.get_by_name("einstein")
    entries = await call(lambda: search(idm.connect(), USERS, "(uid=einstein)",
                                        attributes=["*", "+"]))
    assert len(entries) == 1
    attrs = entries[0]["attributes"]
    assert entries[0]["dn"] == EINSTEIN
    assert set(attrs["objectClass"]) >= {"inetOrgPerson", "organizationalPerson", "person",
                                         "ownCloud", "top"}
    assert attrs["ownCloudUUID"] == [einstein.id] or attrs["ownCloudUUID"] == einstein.id
    assert attrs["mail"] == ["einstein@example.org"]
    assert attrs["displayName"] in ("Albert Einstein", ["Albert Einstein"])
    assert attrs["ownCloudUserType"] in ("Member", ["Member"])
    assert attrs["memberOf"] == [f"cn=physics-lovers,{GROUPS}"]
    assert attrs["entryUUID"] in (einstein.id, [einstein.id])
    assert "userPassword" not in attrs


async def test_guests_are_included(idm: Idm) -> None:
    entries = await call(lambda: search(idm.connect(), USERS, "(ownCloudUserType=Guest)"))
    assert dns(entries) == {f"uid=guest1,{USERS}"}
    assert entries[0]["attributes"]["mail"] == ["guest@elsewhere.example"]


async def test_groups_are_groupofnames_with_member_dns(idm: Idm) -> None:
    entries = await call(lambda: search(idm.connect(), GROUPS, "(objectClass=groupOfNames)"))
    by_cn = {e["dn"]: e["attributes"] for e in entries}
    physics = by_cn[f"cn=physics-lovers,{GROUPS}"]
    assert set(physics["member"]) == {EINSTEIN, f"uid=marie,{USERS}"}
    assert physics["description"] == ["E=mc2"]
    assert f"cn=sailing-lovers,{GROUPS}" in by_cn
    members_of = await call(lambda: search(idm.connect(), GROUPS,
                                           f"(member={EINSTEIN.upper()})"))   # DN match: case-blind
    assert dns(members_of) == {f"cn=physics-lovers,{GROUPS}"}


async def test_changes_in_the_store_show_up(tmp_path: Path) -> None:
    async with start_idm(tmp_path) as idm:
        await _changes(idm)


async def _changes(idm: Idm) -> None:
    await idm.ctx.users.create(username="newcomer", password="s3cret-pass", display_name="New")
    await asyncio.sleep(1.1)      # the snapshot is at most a second old

    def run() -> tuple[set[str], bool]:
        found = dns(search(idm.connect(), USERS, "(uid=newcomer)"))
        return found, Connection(idm.server(), f"uid=newcomer,{USERS}", "s3cret-pass").bind()

    found, ok = await call(run)
    assert found == {f"uid=newcomer,{USERS}"} and ok


async def test_scopes_and_missing_base(idm: Idm) -> None:
    def run() -> tuple[set[str], int, int, str, str]:
        conn = idm.connect()
        base = dns(search(conn, BASE_DN, "(objectClass=*)", BASE))
        one = len(search(conn, BASE_DN, "(objectClass=*)", LEVEL))
        sub = len(search(conn, BASE_DN, "(objectClass=*)", SUBTREE))
        conn.search(f"uid=ghost,{USERS}", "(objectClass=*)")
        return base, one, sub, conn.result["description"], conn.result["dn"]

    base, one, sub, missing, matched = await call(run)
    assert base == {BASE_DN}
    assert one == 3                        # ou=users, ou=groups, ou=sysusers
    assert sub == 1 + 3 + 7 + 2 + 3        # base, ous, users, groups, service accounts
    assert missing == "noSuchObject"
    assert matched.lower() == USERS


@pytest.mark.parametrize(("flt", "expected"), [
    ("(uid=marie)", {"marie"}),
    ("(UID=MARIE)", {"marie"}),                                    # caseIgnoreMatch
    ("(&(objectClass=person)(|(uid=mar*)(uid=*ss)))", {"marie", "moss"}),
    ("(&(objectClass=inetOrgPerson)(!(ownCloudUserType=Member)))", {"guest1"}),
    ("(mail=*@example.org)", {"admin", "einstein", "marie", "moss", "richard", "katherine"}),
    ("(uid=k*th*ne)", {"katherine"}),
    ("(&(uid>=m)(uid<=n))", {"marie", "moss"}),
    ("(displayName~=albert  einstein)", {"einstein"}),
    ("(uid:caseExactMatch:=Marie)", set()),
    ("(uid:caseExactMatch:=marie)", {"marie"}),
    ("(:caseIgnoreMatch:=RICHARD)", {"richard"}),
    ("(&(objectClass=person)(ou:dn:=users))", {"admin", "einstein", "marie", "moss", "richard", "katherine", "guest1"}),
    ("(memberOf=cn=physics-lovers,ou=groups,o=libregraph-idm)", {"einstein", "marie"}),
    ("(noSuchAttribute=x)", set()),
    ("(!(noSuchAttribute=x))", set()),                             # Undefined stays Undefined
    ("(|(noSuchAttribute=x)(uid=moss))", {"moss"}),
    ("(uid=" + escape_filter_chars("*)(uid=*") + ")", set()),      # escaped input stays data
    ("(uid=\\2a)", set()),                                          # a literal star, not "any"
])
async def test_filter_grammar(idm: Idm, flt: str, expected: set[str]) -> None:
    def run() -> set[str]:
        conn = idm.connect()
        return {e["attributes"]["uid"][0] for e in search(conn, USERS, flt, attributes=["uid"])}

    assert await call(run) == expected


async def test_attribute_selection(idm: Idm) -> None:
    def run() -> list[dict[str, Any]]:
        conn = idm.connect()
        out = []
        for attributes in (["uid", "MAIL"], ["1.1"], ["+"]):
            out.append(search(conn, USERS, "(uid=marie)", attributes=attributes)[0]["attributes"])
        conn.search(USERS, "(uid=marie)", attributes=["uid", "cn"], types_only=True)
        out.append(conn.response[0]["attributes"])
        return out

    named, none, operational, types_only = await call(run)
    assert set(named) == {"uid", "mail"}
    assert not none
    assert "entryUUID" in operational and "uid" not in operational
    assert set(types_only) == {"uid", "cn"} and all(not v for v in types_only.values())


async def test_size_limits(tmp_path: Path) -> None:
    async with start_idm(tmp_path, IDM_SIZE_LIMIT="4") as idm:
        def run() -> tuple[int, str, int, str, int]:
            conn = idm.connect()
            client = len(search(conn, USERS, "(uid=*)", size_limit=2))
            client_result = conn.result["description"]
            server = len(search(conn, USERS, "(uid=*)"))
            server_result = conn.result["description"]
            paged = conn.extend.standard.paged_search(USERS, "(uid=*)", attributes=["uid"],
                                                      paged_size=3, generator=False)
            return client, client_result, server, server_result, len(paged)

        client, client_result, server, server_result, paged = await call(run)
        assert (client, client_result) == (2, "sizeLimitExceeded")
        assert (server, server_result) == (4, "sizeLimitExceeded")
        assert paged == 7          # paging walks past the server's size limit


async def test_paged_results(idm: Idm) -> None:
    def run() -> tuple[list[int], list[str], str]:
        conn = idm.connect()
        cookie, pages, seen = None, [], []
        while True:
            conn.search(BASE_DN, "(objectClass=*)", SUBTREE, attributes=["1.1"],
                        paged_size=4, paged_cookie=cookie)
            page = [r["dn"] for r in conn.response if r["type"] == "searchResEntry"]
            pages.append(len(page))
            seen += page
            cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
            if not cookie:
                break
        conn.search(BASE_DN, "(objectClass=*)", SUBTREE, paged_size=4, paged_cookie=b"forged")
        return pages, seen, conn.result["description"]

    pages, seen, forged = await call(run)
    assert pages == [4, 4, 4, 4]
    assert len(set(seen)) == 16 and BASE_DN in seen
    assert forged == "unwillingToPerform"


async def test_compare(idm: Idm) -> None:
    def run() -> list[str]:
        conn = idm.connect()
        out = []
        for dn, attr, value in ((EINSTEIN, "mail", "EINSTEIN@example.org"), (EINSTEIN, "uid", "marie"),
                                (EINSTEIN, "userPassword", "relativity"),
                                (f"uid=ghost,{USERS}", "uid", "ghost")):
            conn.compare(dn, attr, value)
            out.append(conn.result["description"])
        return out

    assert await call(run) == ["compareTrue", "compareFalse", "noSuchAttribute", "noSuchObject"]


async def test_writes_are_unwilling_to_perform(idm: Idm) -> None:
    def run() -> list[str]:
        conn = idm.connect()
        conn.add(f"uid=intruder,{USERS}", "inetOrgPerson", {"sn": "x", "cn": "x"})
        out = [conn.result["description"]]
        conn.modify(EINSTEIN, {"mail": [(MODIFY_REPLACE, ["evil@example.org"])]})
        out.append(conn.result["description"])
        conn.delete(f"uid=marie,{USERS}")
        out.append(conn.result["description"])
        conn.modify_dn(f"uid=marie,{USERS}", "uid=curie")
        out.append(conn.result["description"])
        out.append(search(conn, USERS, "(uid=marie)")[0]["attributes"]["mail"][0])
        return out

    assert await call(run) == ["unwillingToPerform"] * 4 + ["marie@example.org"]


async def test_root_dse(idm: Idm) -> None:
    def run() -> dict[str, Any]:
        conn = idm.connect()
        conn.search("", "(objectClass=*)", BASE, attributes=["*"])
        return dict(conn.response[0]["attributes"])

    attrs = await call(run)
    assert attrs["namingContexts"] == [BASE_DN]
    assert "1.3.6.1.4.1.1466.20037" in attrs["supportedExtension"]      # StartTLS
    assert "1.3.6.1.4.1.4203.1.11.3" in attrs["supportedExtension"]     # WhoAmI
    assert "1.2.840.113556.1.4.319" in attrs["supportedControl"]        # paged results

