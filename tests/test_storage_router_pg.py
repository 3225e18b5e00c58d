"""The space registry of a `StorageRouter` in PostgreSQL (OCIS_DATABASE_URL), on a throw-away
cluster (pgcluster.py): two front nodes (two routers) share it, so a space made through one is
routed and, while its provider is away, listed by the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from pgcluster import PgCluster, postgres  # noqa: F401 - the fixture

from ocis_server.domain.errors import ServiceUnavailable
from ocis_server.storage.router import Placement, StorageRouter
from ocis_server.storage.router.pgregistry import PostgresSpaceRegistry
from ocis_server.storage.sqlite import SqliteStorage

pytestmark = pytest.mark.scaleout


async def _router(root: Path, url: str, placement: Placement | None = None) -> StorageRouter:
    providers = [(m, await SqliteStorage.open(root / m, m)) for m in ("mount-a", "mount-b")]
    return await StorageRouter.open(providers, await PostgresSpaceRegistry.open(url), placement)


async def test_two_fronts_share_the_space_registry(postgres: PgCluster, tmp_path: Path) -> None:
    one = await _router(tmp_path / "one", postgres.url, Placement({"project": "mount-b"}))
    two = await _router(tmp_path / "two", postgres.url)
    try:
        made = await one.create_space(space_type="project", name="Physics", owner_id="u-1",
                                      alias="project/physics")
        assert made.storage_id == "mount-b"
        row = postgres.psql(f"SELECT mount_id, name FROM space_registry WHERE space_id = "
                            f"'{made.id}'")
        assert "mount-b" in row and "Physics" in row
        # the other front has its own mount-b here; take it away: the space is listed from the
        # shared registry, marked, and requests for it answer 503
        b_folder = tmp_path / "two" / "mount-b"
        b_folder.rename(b_folder.with_name("gone"))
        with pytest.raises(ServiceUnavailable):
            await two.check()
        listed = {s.id: s for s in await two.list_spaces()}
        assert listed[made.id].unavailable and listed[made.id].name == "Physics"
        assert listed[made.id].storage_id == "mount-b"
        with pytest.raises(ServiceUnavailable) as away:
            await two.get_space(made.id)
        assert away.value.retry_after_header == "1"
        await one.delete_space(made.id)
        assert made.id not in postgres.psql("SELECT space_id FROM space_registry")
    finally:
        await one.close()
        await two.close()


async def test_the_registry_away_delays_records_but_not_requests(postgres: PgCluster,
                                                                  tmp_path: Path) -> None:
    router = await _router(tmp_path, postgres.url)
    try:
        known = await router.create_space(space_type="project", name="Known", owner_id="u-1",
                                          alias="project/known")
        postgres.stop()
        assert (await router.get_space(known.id)).name == "Known"      # routed from memory
        made = await router.create_space(space_type="project", name="Later", owner_id="u-1",
                                         alias="project/later")
        assert (await router.get_space(made.id)).name == "Later"
        assert {known.id, made.id} <= {s.id for s in await router.list_spaces()}
        postgres.start()
        await router.list_spaces()          # the next listing records what was missed
        rows = postgres.psql("SELECT space_id FROM space_registry")
        assert made.id in rows and known.id in rows
    finally:
        await router.close()
