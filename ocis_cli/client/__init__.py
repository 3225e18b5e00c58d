"""The async client SDK for an oCIS server: one `Client` per server and user, one object per surface.

    async with Client("https://cloud.example", user="einstein", password=pw) as c:   # or bearer=
        drives = await c.graph.my_drives()
        await c.webdav.mkcol(drives[0].id, "/docs")

Errors are typed (`ocis_cli.client.errors`). Imports no typer, rich, textual or ocis_server.
"""

from __future__ import annotations

from typing import Self

from ocis_cli.client.authapp import AppTokenInfo, AppTokens
from ocis_cli.client.bearer import BearerAuth
from ocis_cli.client.errors import (
    AuthError,
    BadRequest,
    ClientError,
    Conflict,
    IntegrityError,
    Locked,
    NetworkError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ServerError,
    Unavailable,
)
from ocis_cli.client.graph import Graph, SpaceMember
from ocis_cli.client.http import HttpClient
from ocis_cli.client.models import Drive, Health, Resource, ServiceState
from ocis_cli.client.ocs import Ocs
from ocis_cli.client.runtime import RuntimeClient
from ocis_cli.client.shares import Sharee, ShareInfo, Shares
from ocis_cli.client.trash import Trash, TrashEntry, VersionEntry, Versions
from ocis_cli.client.tus import Tus
from ocis_cli.client.users import GroupInfo, UserInfo, Users
from ocis_cli.client.webdav import WebDav

__all__ = [
    "AppTokenInfo", "AppTokens", "AuthError", "BadRequest", "BearerAuth", "Client", "ClientError",
    "Conflict", "Drive", "GroupInfo", "Health", "IntegrityError", "Locked", "NetworkError",
    "NotFound", "PermissionDenied", "QuotaExceeded", "Resource", "RuntimeClient", "ServerError",
    "ServiceState", "ShareInfo", "Sharee", "Shares", "SpaceMember", "TrashEntry", "Unavailable", "UserInfo", "Users", "VersionEntry",
]


class Client:
    """A signed-in connection to one server: `.graph`, `.webdav`, `.ocs`, `.shares` ... share one
    HTTP session."""

    def __init__(self, url: str, *, user: str | None = None, password: str | None = None,
                 bearer: BearerAuth | None = None, insecure: bool = False,
                 timeout: float = 60.0) -> None:
        self.http = HttpClient(url, user=user, password=password, bearer=bearer,
                               insecure=insecure, timeout=timeout)
        self.graph = Graph(self.http)
        self.webdav = WebDav(self.http)
        self.ocs = Ocs(self.http)
        self.tus = Tus(self.http, self.ocs.capabilities)
        self.trash = Trash(self.http)
        self.versions = Versions(self.http)
        self.users = Users(self.http)
        self.app_tokens = AppTokens(self.http)
        self.shares = Shares(self.http)

    async def __aenter__(self) -> Self:
        await self.http.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.__aexit__(*exc)
