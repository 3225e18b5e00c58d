"""The async client SDK for an oCIS server: one `Client` per server and user, one object per surface.

    async with Client("https://cloud.example", user="einstein", password=pw) as c:   # or bearer=
        drives = await c.graph.my_drives()
        await c.webdav.mkcol(drives[0].id, "/docs")

Errors are typed (`ocis_cli.client.errors`). Imports no typer, rich, textual or ocis_server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocis_cli.client.authapp import AppTokenInfo, AppTokens
    from ocis_cli.client.bearer import BearerAuth
    from ocis_cli.client.events import ChangeEvent, Events
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
    from ocis_cli.client.remotes import RemoteEntry, Remotes
    from ocis_cli.client.runtime import RuntimeClient
    from ocis_cli.client.session import Client
    from ocis_cli.client.settings import Settings, SettingValue
    from ocis_cli.client.shares import Sharee, ShareInfo, Shares
    from ocis_cli.client.trash import Trash, TrashEntry, VersionEntry, Versions
    from ocis_cli.client.tus import Tus
    from ocis_cli.client.users import GroupInfo, UserInfo, Users
    from ocis_cli.client.webdav import WebDav

__all__ = [
    "AppTokenInfo", "AppTokens", "AuthError", "BadRequest", "BearerAuth", "ChangeEvent", "Client",
    "ClientError", "Events",
    "Conflict", "Drive", "GroupInfo", "Health", "IntegrityError", "Locked", "NetworkError",
    "NotFound", "PermissionDenied", "QuotaExceeded", "RemoteEntry", "Remotes", "Resource", "RuntimeClient", "ServerError",
    "ServiceState", "Settings", "SettingValue", "ShareInfo", "Sharee", "Shares", "SpaceMember", "TrashEntry", "Unavailable", "UserInfo", "Users", "VersionEntry",
]

# Loaded on first use (PEP 562), so that `from ocis_cli.client import protocol` stays free of
# aiohttp: the CLI reads role names at import time and `ocis --help` must stay fast.
_HOME = {
    "authapp": ("AppTokenInfo", "AppTokens"), "bearer": ("BearerAuth",),
    "errors": ("AuthError", "BadRequest", "ClientError", "Conflict", "IntegrityError", "Locked",
               "NetworkError", "NotFound", "PermissionDenied", "QuotaExceeded", "ServerError",
               "Unavailable"),
    "graph": ("Graph", "SpaceMember"), "http": ("HttpClient",),
    "models": ("Drive", "Health", "Resource", "ServiceState"), "ocs": ("Ocs",),
    "remotes": ("RemoteEntry", "Remotes"), "runtime": ("RuntimeClient",), "session": ("Client",), "events": ("ChangeEvent", "Events"),
    "settings": ("Settings", "SettingValue"),
    "shares": ("Sharee", "ShareInfo", "Shares"),
    "trash": ("Trash", "TrashEntry", "VersionEntry", "Versions"), "tus": ("Tus",),
    "users": ("GroupInfo", "UserInfo", "Users"), "webdav": ("WebDav",),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
