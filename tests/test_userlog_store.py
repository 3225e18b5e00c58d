"""Where the userlog's notifications live (ocis_server/services/userlog/store.py, pgstore.py):
SQLite under the node's data folder, kept across a restart; with OCIS_DATABASE_URL one PostgreSQL
table, so two front nodes list and delete the same notifications, written once (the userlog
consumer group is then shared) and told once to an SSE client of the other node. Bounded per user
on both stores. Real `ocis server` processes, a real nats-server and PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocis_server.services.userlog.pgstore import PostgresNotifications
from ocis_server.services.userlog.store import NotificationStore, SqliteNotifications
from tests.conftest import free_port
from tests.kit.cluster import Node, make_node, registry_env, two_fronts
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from pgcluster import PgCluster, postgres  # noqa: F401 - the fixture
from tests.sse_helpers import SseReader

pytestmark = pytest.mark.scaleout
NOTIFICATIONS = "/ocs/v2.php/apps/notifications/api/v1/notifications"
SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")


def _note(i: int) -> dict[str, Any]:
    return {"notification_id": f"n{i}", "app": "userlog", "subject": f"number {i}"}


async def _bounded(store: NotificationStore) -> None:
    for i in range(5):
        await store.add("u1", _note(i))
    await store.add("u2", _note(9))
    assert [n["notification_id"] for n in await store.of("u1")] == ["n2", "n3", "n4"]
    await store.delete("u1", ["n3", "n9"])                 # n9 is u2's: not deleted through u1
    assert [n["notification_id"] for n in await store.of("u1")] == ["n2", "n4"]
    assert await store.of("u2") == [_note(9)]


async def test_both_stores_keep_the_newest_per_user(tmp_path: Path,
                                                    postgres: PgCluster) -> None:  # noqa: F811
    sqlite = await SqliteNotifications.open(tmp_path / "n.db", per_user=3)
    pg = await PostgresNotifications.open(postgres.url, per_user=3)
    try:
        await _bounded(sqlite)
        await _bounded(pg)
    finally:
        await sqlite.close()
        await pg.close()


async def _share(web: aiohttp.ClientSession, node: Node, folder: str) -> None:
    async with web.request("MKCOL", f"{node.url}/remote.php/dav/files/einstein/{folder}",
                           auth=EINSTEIN) as answer:
        assert answer.status == 201, await answer.text()
    async with web.post(node.url + SHARES, auth=EINSTEIN, params={"format": "json"},
                        data={"path": f"/{folder}", "shareType": "0", "shareWith": "marie",
                              "permissions": "1"}) as answer:
        assert answer.status == 200, await answer.text()


async def _listed(web: aiohttp.ClientSession, node: Node, expect: int = 0,
                  timeout: float = 15.0) -> list[dict[str, Any]]:
    """Marie's notifications through `node` once there are at least `expect`."""
    deadline = time.monotonic() + timeout
    while True:
        async with web.get(node.url + NOTIFICATIONS, auth=MARIE) as answer:
            assert answer.status == 200, await answer.text()
            data = (await answer.json())["ocs"]["data"]
        if len(data) >= expect or time.monotonic() > deadline:
            return list(data)
        await asyncio.sleep(0.2)


async def _delete(web: aiohttp.ClientSession, node: Node, ids: list[str]) -> None:
    async with web.delete(node.url + NOTIFICATIONS, auth=MARIE, json={"ids": ids}) as answer:
        assert answer.status == 200, await answer.text()


async def test_notifications_outlive_a_restart_on_sqlite(tmp_path: Path) -> None:
    node = make_node("solo", tmp_path / "solo", {})
    node.init()
    try:
        await asyncio.to_thread(node.start)
        async with aiohttp.ClientSession() as web:
            await _share(web, node, "first")
            await _share(web, node, "second")
            before = await _listed(web, node, 2)
            assert [n["messageRichParameters"]["resource"]["name"] for n in before] == [
                "first", "second"]
            await asyncio.to_thread(node.stop)
            assert (tmp_path / "solo" / "data" / "userlog" / "notifications.db").is_file()
            await asyncio.to_thread(node.start)
            assert await _listed(web, node) == before
            await _delete(web, node, [before[0]["notification_id"]])
            await asyncio.to_thread(node.stop)
            await asyncio.to_thread(node.start)
            assert await _listed(web, node) == before[1:]
    finally:
        node.stop()


async def test_two_fronts_over_one_postgres_list_and_delete_the_same(
        nats_server: NatsServer, postgres: PgCluster, tmp_path: Path) -> None:  # noqa: F811
    shared = registry_env(nats_server, events=True) | {
        "OCIS_DATABASE_URL": postgres.url, "STORAGE_USERS_HTTP_ADDR": f"127.0.0.1:{free_port()}"}
    a, b = two_fronts(tmp_path, shared)
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        async with aiohttp.ClientSession() as web, \
                SseReader(a.url, "marie", "radioactivity") as sse_a:
            await _share(web, b, "through-b")
            [note] = await _listed(web, a, 1)
            assert note["messageRichParameters"]["resource"]["name"] == "through-b"
            assert await _listed(web, b) == [note]
            # Marie's client on A is told once (one writer), with the notification listed.
            told = await sse_a.note(10)
            assert told.data["notification_id"] == note["notification_id"]
            await asyncio.sleep(3)
            assert sse_a.notes.empty()                           # not a second time
            assert await _listed(web, a) == [note]              # still once, after a while

            await _delete(web, b, [note["notification_id"]])
            assert await _listed(web, a) == [] and await _listed(web, b) == []
    finally:
        b.stop()
        a.stop()


async def test_postgres_away_is_a_503_and_notifications_work_again_once_it_is_back(
        postgres: PgCluster, tmp_path: Path) -> None:  # noqa: F811
    node = make_node("solo", tmp_path / "pg", {"OCIS_DATABASE_URL": postgres.url})
    node.init()
    try:
        await asyncio.to_thread(node.start)
        async with aiohttp.ClientSession() as web:
            await _share(web, node, "before")
            assert len(await _listed(web, node, 1)) == 1
            # Listing needs the database (so does signing in: the users are there too).
            await asyncio.to_thread(postgres.stop)
            async with web.get(node.url + NOTIFICATIONS, auth=MARIE) as answer:
                assert answer.status == 503 and "Traceback" not in await answer.text()
            await asyncio.sleep(1)
            await asyncio.to_thread(postgres.start)
            await _share(web, node, "after")
            names = [n["messageRichParameters"]["resource"]["name"]
                     for n in await _listed(web, node, 2, timeout=30)]
            assert names == ["before", "after"]
    finally:
        node.stop()
