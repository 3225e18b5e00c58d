"""One LDAP connection of the IDM server (server.py): frame and decode the requests (ber.py,
ldap3's ASN.1 on pyasn1) and answer them (session.py). server.py imports this with the first
connection, so a server that nobody asks over LDAP never loads the BER codec."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import TYPE_CHECKING

from . import ber
from .config import MAX_PDU, WRITE_BUFFER_HIGH
from .server import HANDSHAKE_TIMEOUT, close_writer
from .session import Session

if TYPE_CHECKING:
    from .server import IdmServer

log = logging.getLogger("ocis.idm")


async def serve_connection(server: IdmServer, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter, *, tls: bool) -> None:
    peer = writer.get_extra_info("peername")
    address = str(peer[0]) if peer else "unknown"
    if len(server.writers) >= server.settings.max_connections:
        writer.write(ber.encode_notice_of_disconnection(ber.BUSY, "too many connections"))
        await close_writer(writer)
        return
    server.writers.add(writer)
    task = asyncio.current_task()
    if task is not None:
        server.tasks.add(task)
    session = Session(server.settings, server.view, server.ctx.users, server.ctx.throttle,
                      address, tls=tls)
    try:
        await _loop(server, reader, writer, session)
    except (TimeoutError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    except ber.MalformedPDU as exc:
        log.info("idm: closing connection from %s: %s", address, exc)
        with contextlib.suppress(Exception):
            writer.write(ber.encode_notice_of_disconnection(ber.PROTOCOL_ERROR,
                                                            "malformed request"))
    except Exception:
        log.exception("idm: connection from %s failed", address)
    finally:
        server.writers.discard(writer)
        if task is not None:
            server.tasks.discard(task)
        await close_writer(writer)


async def _loop(server: IdmServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                session: Session) -> None:
    buf = bytearray()
    while True:
        size = ber.frame_length(buf, MAX_PDU)
        if size is None or len(buf) < size:
            data = await asyncio.wait_for(reader.read(65536), server.settings.idle_timeout)
            if not data:
                return
            buf += data
            continue
        request = ber.decode_request(bytes(buf[:size]))
        del buf[:size]
        session.users = server.ctx.users
        await _answer(session, request, writer)
        if session.closing:
            return
        if session.start_tls:
            if buf:      # RFC 4511 §4.14.1: nothing may follow the StartTLS request
                raise ber.MalformedPDU("data after the StartTLS request")
            assert server.ssl_context is not None
            await writer.start_tls(server.ssl_context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
            session.tls, session.start_tls = True, False


async def _answer(session: Session, request: ber.Request, writer: asyncio.StreamWriter) -> None:
    try:
        async for chunk in session.handle(request):
            writer.write(chunk)
            if writer.transport.get_write_buffer_size() > WRITE_BUFFER_HIGH:
                await writer.drain()
    except ber.MalformedPDU:
        raise
    except Exception:
        # the store failed (or is not running here): this operation fails, the connection lives
        log.exception("idm: %s failed", request.op)
        if request.op in ber.ANSWERED:
            writer.write(ber.encode_result(request.message_id, request.op, ber.OTHER,
                                           "internal error"))
    await writer.drain()
