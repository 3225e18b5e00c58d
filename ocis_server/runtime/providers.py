"""Several storage providers in one instance (issue 16): with STORAGE_USERS_EXTRA_MOUNT_IDS the
storage-users unit opens one provider per mount id beside the primary one and hands the services
a `StorageRouter` over them. Without it, nothing here runs: the services get the one provider
itself, exactly as before (no router in the way)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ocis_server.config.loader import Config
from ocis_server.storage.router import Placement, SqliteSpaceRegistry, StorageRouter
from ocis_server.storage.router.registry import SpaceRegistry

log = logging.getLogger("ocis.runtime")
Opener = Callable[[Path, str], Awaitable[Any]]   # (data folder, mount id) -> an open provider


def extra_root(base: Path, mount_id: str) -> Path:
    """The data folder of an embedded extra provider."""
    return base / "storage" / f"users-{mount_id}"


def several(config: Config) -> bool:
    return bool(config.storage_extra_mount_ids)


async def open_registry(config: Config) -> SpaceRegistry:
    if config.database_url:
        from ocis_server.storage.router.pgregistry import PostgresSpaceRegistry   # psycopg

        return await PostgresSpaceRegistry.open(config.database_url)
    return await SqliteSpaceRegistry.open(
        Path(config.base_data_path) / "storage" / "spaces-registry.db")


async def open_router(config: Config, primary: Any, open_provider: Opener) -> StorageRouter:
    """The router over `primary` (mount id `config.storage_id`) and one embedded provider per
    extra mount id; closes what it opened when something fails."""
    base = Path(config.base_data_path)
    providers: list[tuple[str, Any]] = [(config.storage_id, primary)]
    registry: SpaceRegistry | None = None
    try:
        for mount_id in config.storage_extra_mount_ids:
            if mount_id == config.storage_id or mount_id in dict(providers):
                raise ValueError(f"storage provider mount id {mount_id!r} is listed twice")
            providers.append((mount_id, await open_provider(extra_root(base, mount_id),
                                                            mount_id)))
        registry = await open_registry(config)
        placement = Placement({"personal": config.storage_personal_mount_id,
                               "project": config.storage_project_mount_id})
        router = await StorageRouter.open(providers, registry, placement)
    except BaseException:
        for _, provider in providers[1:]:
            await provider.close()
        if registry is not None:
            await registry.close()
        raise
    log.info("storage router over %d providers: %s", len(providers),
             ", ".join(m for m, _ in providers))
    return router
