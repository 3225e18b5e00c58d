"""TUI fixtures: a real embedded server in the test's event loop, and the app signed in to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ocis_cli.client import Client
from ocis_server.runtime import embedded_server, make_test_config
from ocis_tui.app import OcisApp, make_app
from ocis_tui.remote import Remote, RemoteApi, whoami
from ocis_tui.settings import TuiSettings


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Any]:
    async with embedded_server(make_test_config(tmp_path / "srv")) as srv:
        yield srv


def opener(url: str, user: str, password: str) -> Callable[[], AbstractAsyncContextManager[RemoteApi]]:
    @asynccontextmanager
    async def open_remote() -> AsyncIterator[RemoteApi]:
        async with Client(url, user=user, password=password) as client:
            yield Remote(client, await whoami(client, url, "test"))

    return open_remote


@pytest.fixture
async def einstein(server: Any) -> AsyncIterator[Client]:
    """An SDK client as einstein, to prepare and check what the TUI shows."""
    async with Client(server.url, user="einstein", password="relativity") as client:
        yield client


@pytest.fixture
def tui_app(server: Any) -> Callable[..., OcisApp]:
    def build(settings: TuiSettings | None = None, user: str = "einstein",
              password: str = "relativity") -> OcisApp:
        return make_app(opener(server.url, user, password), settings)

    return build


async def wait_for(pilot: Any, condition: Callable[[], object], timeout: float = 10.0,
                   what: str = "condition") -> None:
    """Let the app run until `condition()` is true (workers talk to a real server)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def ready(pilot: Any) -> Any:
    """Wait until the browser shows the first space's listing; the browser screen."""
    app = pilot.app
    await wait_for(pilot, lambda: app.browser.drive is not None and not app.browser.table.loading
                   and app.browser.cli_log, what="the first listing")
    return app.browser
