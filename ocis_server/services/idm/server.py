"""The idm LDAP server: an LDAPS listener (IDM_LDAPS_ADDR) and optionally a plain one that only
upgrades with StartTLS (IDM_LDAP_ADDR). One Session per connection; a malformed PDU closes that
connection with a Notice of Disconnection, every other connection keeps being served."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from ocis_server.config import ConfigError, split_addr
from ocis_server.config.certs import ensure_self_signed
from ocis_server.services.context import ServiceContext

from .config import IdmSettings
from .directory import DirectoryView

log = logging.getLogger("ocis.idm")
HANDSHAKE_TIMEOUT = 10.0


class IdmServer:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.settings = IdmSettings.from_config(ctx.config)
        self.view = DirectoryView(lambda: self.ctx.users, self.settings.sysusers)
        self.ssl_context: ssl.SSLContext | None = None
        self._servers: list[asyncio.Server] = []
        self.writers: set[asyncio.StreamWriter] = set()      # open connections
        self.tasks: set[asyncio.Task[Any]] = set()           # their handlers
        self.ldaps_port = 0
        self.ldap_port = 0          # 0 when the plain listener is off

    async def start(self) -> None:
        settings = self.settings
        created = await asyncio.to_thread(ensure_self_signed, settings.cert, settings.key)
        if created:
            log.info("idm: created a self-signed certificate at %s", settings.cert)
        self.ssl_context = await asyncio.to_thread(_server_context, settings)
        try:
            server = await _listen(self._ldaps, settings.ldaps_addr, "IDM_LDAPS_ADDR",
                                   self.ssl_context)
            self._servers.append(server)
            self.ldaps_port = server.sockets[0].getsockname()[1]
            if settings.ldap_addr:
                plain = await _listen(self._ldap, settings.ldap_addr, "IDM_LDAP_ADDR", None)
                self._servers.append(plain)
                self.ldap_port = plain.sockets[0].getsockname()[1]
        except BaseException:
            await self.stop()
            raise
        log.info("idm: LDAPS on port %d%s", self.ldaps_port,
                 f", LDAP+StartTLS on port {self.ldap_port}" if self.ldap_port else "")

    def check(self) -> None:
        if not self._servers or not all(s.is_serving() for s in self._servers):
            raise RuntimeError("the LDAP listeners are not serving")

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for writer in list(self.writers):
            writer.transport.abort()       # no TLS close_notify dance with idle clients
        if self.tasks:        # closed transports end their handlers; let them finish cleanly
            await asyncio.wait(list(self.tasks), timeout=5.0)
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5.0)

    async def _ldaps(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls=True)

    async def _ldap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls=False)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                     tls: bool) -> None:
        # the BER codec (ldap3's ASN.1 on pyasn1, a few MiB) loads with the first connection
        from .connection import serve_connection

        await serve_connection(self, reader, writer, tls=tls)


async def _listen(handler: Any, addr: str, what: str, context: ssl.SSLContext | None) -> asyncio.Server:
    try:
        host, port = split_addr(addr)
        return await asyncio.start_server(
            handler, host, port, ssl=context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT if context is not None else None)
    except ValueError as exc:
        raise ConfigError(f"invalid {what} {addr!r}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot listen on {addr} ({what}): {exc.strerror or exc}") from None


def _server_context(settings: IdmSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cert, settings.key)
    return context


async def close_writer(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2.0)
