"""idm's wire protocol under hostile input: malformed PDUs close that connection only, caps hold,
and the building blocks (framing, DN parsing, filter evaluation) behave as RFC 4511/4514 say."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from ldap3 import Connection, Server, Tls
from ldap3.operation.bind import bind_operation
from ldap3.protocol.rfc2696 import RealSearchControlValue
from ldap3.protocol.rfc4511 import LDAPMessage, ProtocolOp
from pyasn1.codec.ber import decoder, encoder

from ocis_server.auth.logins import LoginThrottle
from ocis_server.identity.builtin import BuiltinUserStore
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.services.idm import ber
from ocis_server.services.idm import session as session_module
from ocis_server.services.idm.config import IdmSettings
from ocis_server.services.idm.directory import DirectoryView
from ocis_server.services.idm.session import Session

EINSTEIN = "uid=einstein,ou=users,o=libregraph-idm"
pytestmark = pytest.mark.asyncio(loop_scope="module")
NOTICE = ber.NOTICE_OF_DISCONNECTION_OID.encode()


class Wire:
    """A raw TLS connection to idm speaking bytes, the way a broken or hostile client would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, cert: Path) -> Wire:
        context = ssl.create_default_context(cafile=str(cert))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                       server_hostname="localhost")
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_all(self) -> bytes:
        """Everything until the server closes (a closed connection is what these tests expect)."""
        chunks = []
        while True:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), 10)
            except (ConnectionError, ssl.SSLError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    async def request(self, data: bytes) -> bytes:
        await self.send(data)
        return await asyncio.wait_for(self.reader.read(65536), 10)

    def close(self) -> None:
        self.writer.transport.abort()


def message(message_id: int, name: str, op: object) -> bytes:
    msg = LDAPMessage()
    msg["messageID"] = message_id
    choice = ProtocolOp()
    choice.setComponentByName(name, op)
    msg["protocolOp"] = choice
    return bytes(encoder.encode(msg))


def bind_pdu(message_id: int = 1, dn: str = EINSTEIN, password: str = "relativity") -> bytes:
    return message(message_id, "bindRequest", bind_operation(3, "SIMPLE", dn, password))


def nested_search(depth: int) -> bytes:
    """A searchRequest whose filter is `depth` nested NOTs around (uid=*)."""
    flt = b"\x87\x03uid"
    for _ in range(depth):
        flt = b"\xa2" + _length(len(flt)) + flt
    body = (b"\x04\x10o=libregraph-idm" + b"\x0a\x01\x02" + b"\x0a\x01\x00" + b"\x02\x01\x00"
            + b"\x02\x01\x00" + b"\x01\x01\x00" + flt + b"\x30\x00")
    op = b"\x63" + _length(len(body)) + body
    inner = b"\x02\x01\x02" + op
    return b"\x30" + _length(len(inner)) + inner


def _length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")


@asynccontextmanager
async def start_idm(base: Path, **env: str) -> AsyncIterator[tuple[int, Path]]:
    """idm with the admin and einstein only (each demo user costs a password hash)."""
    config = make_test_config(base, demo_users=False, **env)
    async with embedded_server(config, only=["idm"]) as srv:
        await srv.ctx.users.create(username="einstein", password="relativity")
        unit = srv.supervisor.unit("idm")
        assert unit is not None
        server = unit.server    # type: ignore[attr-defined]
        yield server.ldaps_port, server.settings.cert


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def idm(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[int, Path]]:
    async with start_idm(tmp_path_factory.mktemp("idm")) as value:
        yield value


async def still_serving(port: int, cert: Path) -> None:
    def run() -> str | None:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(cert))
        conn = Connection(Server("127.0.0.1", port=port, use_ssl=True, tls=tls), EINSTEIN,
                          "relativity", receive_timeout=10)
        assert conn.bind(), conn.result
        return conn.extend.standard.who_am_i()

    assert await asyncio.to_thread(run) == f"dn:{EINSTEIN}"


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",            # not a SEQUENCE
    b"\x30\x80\x02\x01\x01\x00\x00",                 # indefinite length
    b"\x30\x84\x7f\xff\xff\xff",                     # announces 2 GiB
    b"\x30\x05\x02\x01\x01\x04\x00",                 # a SEQUENCE, but no LDAP operation
    b"\x30\x07\x02\x01\x01\x63\x02\x04\x00",         # truncated searchRequest
])
async def test_malformed_pdu_closes_only_that_connection(idm: tuple[int, Path],
                                                         garbage: bytes) -> None:
    port, cert = idm
    bystander = await Wire.open(port, cert)
    assert b"\x61" in await bystander.request(bind_pdu())       # bindResponse
    wire = await Wire.open(port, cert)
    await wire.send(garbage)
    answer = await wire.read_all()
    assert NOTICE in answer                                     # Notice of Disconnection, then EOF
    assert b"\x0a\x01\x02" in answer                            # resultCode protocolError
    # the connection bound before keeps working, and new ones are accepted
    assert b"\x61" in await bystander.request(bind_pdu(2))
    bystander.close()
    await still_serving(port, cert)


async def test_filter_nesting_is_capped(idm: tuple[int, Path]) -> None:
    port, cert = idm
    wire = await Wire.open(port, cert)
    assert b"\x61" in await wire.request(bind_pdu())
    await wire.send(nested_search(10))
    first = await asyncio.wait_for(wire.reader.read(65536), 10)
    assert b"\x65" in first                                     # searchResDone: a fine filter
    await wire.send(nested_search(ber.MAX_FILTER_DEPTH + 5))
    assert NOTICE in await wire.read_all()
    await still_serving(port, cert)


async def test_connection_cap(tmp_path: Path) -> None:
    async with start_idm(tmp_path, IDM_MAX_CONNECTIONS="4") as (port, cert):
        await _cap(port, cert)


async def _cap(port: int, cert: Path) -> None:
    wires = [await Wire.open(port, cert) for _ in range(4)]
    for wire in wires:
        assert b"\x61" in await wire.request(bind_pdu())
    extra = await Wire.open(port, cert)
    answer = await extra.read_all()
    assert NOTICE in answer and b"\x0a\x01\x33" in answer       # busy (51)
    wires[0].close()
    await asyncio.sleep(0.2)
    await still_serving(port, cert)
    for wire in wires[1:]:
        wire.close()


async def test_unknown_extended_operation_and_abandon_keep_the_connection(
        idm: tuple[int, Path]) -> None:
    port, cert = idm
    wire = await Wire.open(port, cert)
    ext = b"\x77\x07\x80\x051.2.3"                  # extendedReq 1.2.3
    answer = await wire.request(b"\x30" + _length(3 + len(ext)) + b"\x02\x01\x05" + ext)
    assert b"\x78" in answer and b"\x0a\x01\x02" in answer     # extendedResp, protocolError
    await wire.send(b"\x30\x06\x02\x01\x06\x50\x01\x05")       # abandon 5: no answer
    assert b"\x61" in await wire.request(bind_pdu(7))           # the next request is answered
    wire.close()


async def test_unbind_closes_the_connection(idm: tuple[int, Path]) -> None:
    port, cert = idm
    wire = await Wire.open(port, cert)
    assert b"\x61" in await wire.request(bind_pdu())
    await wire.send(b"\x30\x05\x02\x01\x02\x42\x00")       # unbindRequest: no answer, closed
    assert await wire.read_all() == b""


async def test_idle_connections_are_closed(tmp_path: Path) -> None:
    async with start_idm(tmp_path, IDM_IDLE_TIMEOUT="0.3") as (port, cert):
        wire = await Wire.open(port, cert)
        assert await asyncio.wait_for(wire.read_all(), 5) == b""


async def test_time_limit_and_paged_abandon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search past its time limit ends with timeLimitExceeded (the clock is sped up here);
    a paged search with size 0 abandons its result set (RFC 2696)."""

    config = make_test_config(tmp_path, demo_users=False)
    store = await BuiltinUserStore.open(tmp_path / "users.db")
    try:
        for name in ("a1", "a2", "a3"):
            await store.create(username=name, password="x-password-1")
        settings = IdmSettings.from_config(config)
        session = Session(settings, DirectoryView(lambda: store, settings.sysusers), store,
                          LoginThrottle(), "127.0.0.1", tls=True)
        session.authenticated = True
        flt = ber.Present("uid")

        def search(time_limit: int, controls: tuple[ber.Control, ...] = ()) -> ber.Request:
            return ber.Request(3, "searchRequest", {
                "base": "ou=users,o=libregraph-idm", "scope": 2, "size_limit": 0,
                "time_limit": time_limit, "types_only": False, "filter": flt,
                "attributes": ()}, controls)

        async def answers(req: ber.Request) -> list[bytes]:
            return [chunk async for chunk in session.handle(req)]

        ticks = iter(range(0, 10_000, 7))        # every reading of the clock is 7 s later
        monkeypatch.setattr(session_module.time, "monotonic", lambda: float(next(ticks)))
        out = await answers(search(10))
        assert b"\x0a\x01\x03" in out[-1]          # timeLimitExceeded
        assert len(out) < 4                        # not every entry was sent
        monkeypatch.undo()

        first = await answers(search(0, (ber.Control(ber.PAGED_RESULTS_OID, True,
                                                     _paged_value(1, b"")),)))
        assert len(first) == 2
        cookie = _cookie(first[-1])
        assert cookie
        abandon = await answers(search(0, (ber.Control(ber.PAGED_RESULTS_OID, True,
                                                       _paged_value(0, cookie)),)))
        assert len(abandon) == 1 and b"\x0a\x01\x00" in abandon[0]
        again = await answers(search(0, (ber.Control(ber.PAGED_RESULTS_OID, True,
                                                     _paged_value(1, cookie)),)))
        assert b"\x0a\x01\x35" in again[0]         # unwillingToPerform: that result set is gone
    finally:
        await store.close()


def _paged_value(size: int, cookie: bytes) -> bytes:
    control = ber.paged_response(size, cookie)     # same BER layout as the request value
    assert control.value is not None
    return control.value


def _cookie(done: bytes) -> bytes:

    message, _ = decoder.decode(done, asn1Spec=LDAPMessage())
    value = bytes(message["controls"][0]["controlValue"])
    control, _ = decoder.decode(value, asn1Spec=RealSearchControlValue())
    return bytes(control["cookie"])


async def test_a_missing_certificate_is_created_at_start(tmp_path: Path) -> None:
    """Like oCIS's idm: data from before `ocis init` wrote certificates still gets LDAPS."""
    config = make_test_config(tmp_path, demo_users=False)
    cert, key = tmp_path / "data" / "idm" / "ldap.crt", tmp_path / "data" / "idm" / "ldap.key"
    cert.unlink()
    key.unlink()
    async with embedded_server(config, only=["idm"]) as srv:
        await srv.ctx.users.create(username="einstein", password="relativity")
        server = srv.supervisor.unit("idm").server     # type: ignore[union-attr]
        assert cert.is_file() and key.stat().st_mode & 0o077 == 0
        await still_serving(server.ldaps_port, cert)
