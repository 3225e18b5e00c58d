"""Services mounted in-process on a storage with the users' personal spaces, behind the proxy
stand-in: what the unit tests of ocdav, frontend and graph run against."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.storage.sqlite import SqliteStorage

from .auth import root_app
from .users import ALICE, BOB, memory_users

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
DAV_MOUNTS = ("/remote.php", "/webdav", "/dav", "/status.php", "/status")


async def storage_with_homes(data_dir: Path, *users: User) -> SqliteStorage:
    """The SQLite storage at `data_dir` with a personal space for each of `users` (kept when the
    storage is reopened)."""
    storage = await SqliteStorage.open(data_dir, STORAGE_ID)
    for user in users:
        try:
            await storage.get_space(user.id)
        except NotFound:
            await storage.create_space(space_type="personal", name=user.display_name,
                                       owner_id=user.id, alias=f"personal/{user.username}",
                                       space_id=user.id)
    return storage


async def ocdav_root(data_dir: Path, users: Any = None, mounts: tuple[str, ...] = DAV_MOUNTS,
                     **config: object) -> tuple[web.Application, dict[str, User], SqliteStorage]:
    """ocdav on every DAV mount for alice and bob (memory store unless `users` is given); the
    storage closes with the app. Returns (root app, {username: User}, storage)."""
    from ocis_server.services.ocdav.app import create_app

    users = users or await memory_users(ALICE, BOB)
    storage = await storage_with_homes(data_dir, ALICE, BOB)
    settings = {"ocis_url": "http://localhost", **config}
    ctx = ServiceContext(config=SimpleNamespace(**settings), storage=storage,
                         users=users)  # type: ignore[arg-type]
    root = root_app(users, *((mount, create_app(ctx, mount)) for mount in mounts))

    async def close(_app: web.Application) -> None:
        await storage.close()
    root.on_cleanup.append(close)
    return root, {"alice": ALICE, "bob": BOB}, storage
