"""`Client`: one signed-in connection to a server, with one object per surface."""

from __future__ import annotations

from typing import Self

from ocis_cli.client.authapp import AppTokens
from ocis_cli.client.bearer import BearerAuth
from ocis_cli.client.events import Events
from ocis_cli.client.graph import Graph
from ocis_cli.client.http import HttpClient
from ocis_cli.client.invites import Invites
from ocis_cli.client.ocs import Ocs
from ocis_cli.client.remotes import Remotes
from ocis_cli.client.settings import Settings
from ocis_cli.client.shares import Shares
from ocis_cli.client.trash import Trash, Versions
from ocis_cli.client.tus import Tus
from ocis_cli.client.users import Users
from ocis_cli.client.webdav import WebDav


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
        self.settings = Settings(self.http)
        self.invites = Invites(self.http)
        self.events = Events(self.http)
        self.remotes = Remotes(self.http)

    async def __aenter__(self) -> Self:
        await self.http.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.__aexit__(*exc)
