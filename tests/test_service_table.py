"""The one service table: a service that exists only as a package in tests/ (tests/extra_service)
plus one ServiceSpec row is selected, started, supervised and served by the proxy, which answers
its refusals in the service's own error format, with no other change; every reference in the real
table resolves."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp

from ocis_server.runtime import embedded_server, make_test_config, select_services
from ocis_server.services import SERVICES, ServiceSpec, by_name, load

EINSTEIN = {"Authorization": "Basic " + base64.b64encode(b"einstein:relativity").decode()}
EXTRA = ServiceSpec("extra", "a service only the tests know", group=4,
                    app="extra_service.app:create_app", errors="extra_service.errors:render_error",
                    mounts=("/extra",),
                    unprotected=("/extra/public",), depends=("users",))
SPECS = (*SERVICES, EXTRA)


def test_every_reference_in_the_table_resolves() -> None:
    names = {spec.name for spec in SERVICES}
    assert len(names) == len(SERVICES)
    assert [s.name for s in SERVICES if s.entry] == ["proxy"]
    for spec in SERVICES:
        assert set(spec.depends) <= names, spec.name
        assert bool(spec.app) != bool(spec.unit) or spec.entry, spec.name   # exactly one way to run
        for field in ("app", "unit", "driver", "errors"):
            if getattr(spec, field):
                assert callable(spec.resolve(field)), (spec.name, field)
    assert load("ocis_server.storage.sqlite:SqliteStorage") is by_name()["storage-users"].resolve("driver")


def test_a_new_row_is_selected_with_what_it_needs(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    only = {s.name for s in select_services(config, SPECS, only=["extra"])}
    assert only == {"extra", "users", "proxy"}          # `ocis extra server`
    assert "extra" in {s.name for s in select_services(config, SPECS)}


async def test_supervisor_and_proxy_serve_a_service_added_as_one_row(tmp_path: Path) -> None:
    async with (embedded_server(make_test_config(tmp_path), specs=SPECS) as srv,
                aiohttp.ClientSession() as http):
        async with http.get(f"{srv.runtime_url}/services") as resp:
            states = {s["name"]: s["state"] for s in await resp.json()}
        assert states["extra"] == "ready" and set(states) == {s.name for s in SPECS if s.default}
        async with http.get(f"{srv.url}/extra/hello", headers=EINSTEIN) as resp:
            assert resp.status == 200
            assert await resp.json() == {"mount": "/extra", "hello": "einstein", "users": 6}
        async with http.get(f"{srv.url}/extra/public/hello") as resp:
            assert resp.status == 200 and (await resp.json())["hello"] is None
        async with http.get(f"{srv.url}/extra/hello") as resp:
            assert resp.status == 401                      # the proxy guards it like any other,
            assert await resp.text() == (                  # in the service's own error format
                "extra says unauthenticated: No 'Authorization' header provided")
            assert resp.headers["WWW-Authenticate"].startswith("Basic")
        async with http.get(f"{srv.url}/extra/missing", headers=EINSTEIN) as resp:
            assert resp.status == 404 and await resp.text() == "extra says itemNotFound: nothing here"
        async with http.get(f"{srv.runtime_url}/health") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "healthy"
        async with http.request("PROPFIND", f"{srv.url}/remote.php/dav/files/einstein/",
                                headers={**EINSTEIN, "Depth": "0"}) as resp:
            assert resp.status == 207                      # the others are untouched


async def test_a_new_row_runs_on_its_own_node(tmp_path: Path) -> None:
    async with (embedded_server(make_test_config(tmp_path), specs=SPECS, only=["extra"]) as srv,
                aiohttp.ClientSession() as http):
        assert {u.spec.name for u in srv.supervisor.units} == {"extra", "users", "proxy"}
        async with http.get(f"{srv.url}/extra/hello", headers=EINSTEIN) as resp:
            assert resp.status == 200 and (await resp.json())["hello"] == "einstein"
        async with http.get(f"{srv.url}/remote.php/webdav/", headers=EINSTEIN) as resp:
            assert resp.status == 404                      # ocdav does not run on this node
