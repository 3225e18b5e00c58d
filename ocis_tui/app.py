"""The Textual app: `make_app(open_remote, settings)` builds it; `run_tui` is what `ocis tui` calls.

`open_remote` is an async context manager factory yielding a `RemoteApi`: the real one signs in with
a CLI context, tests pass one bound to an embedded server (or a fake for snapshots).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from ocis_cli.client import ClientError
from ocis_tui.bindings import KEYS
from ocis_tui.messages import Connected, ConnectFailed
from ocis_tui.remote import Identity, Remote, RemoteApi, whoami
from ocis_tui.screens.browser import BrowserScreen
from ocis_tui.settings import TuiSettings
from ocis_tui.transfers import Transfers

if TYPE_CHECKING:
    from ocis_cli.contexts import Context

OpenRemote = Callable[[], AbstractAsyncContextManager[RemoteApi]]


class OcisApp(App[int]):
    TITLE = "ocis"
    # ctrl+q stays the always-works quit (Textual's default); `q` is the browser's own binding.
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, open_remote: OpenRemote, settings: TuiSettings) -> None:
        super().__init__(ansi_color=False)
        self.open_remote = open_remote
        self.settings = settings
        self.transfers = Transfers()
        self._stack = AsyncExitStack()
        self.browser = BrowserScreen(settings, self.transfers)

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"unknown theme {self.settings.theme!r}; using {self.theme}",
                        severity="warning")
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.push_screen(self.browser)
        self.connect()

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        try:
            remote = await self._stack.enter_async_context(self.open_remote())
        except ClientError as exc:
            self.browser.post_message(ConnectFailed(exc.message))
            return
        self.browser.post_message(Connected(remote))

    async def on_unmount(self) -> None:
        self.workers.cancel_all()
        await self._stack.aclose()


def make_app(open_remote: OpenRemote, settings: TuiSettings | None = None) -> OcisApp:
    return OcisApp(open_remote, settings or TuiSettings())


def remote_for_context(context: Context) -> OpenRemote:
    """Sign in with a CLI context (`ocis login`: password or OIDC tokens), as every `ocis`
    command does; raises ContextError at once when the context has no usable credentials."""
    from ocis_cli.credentials import client_for

    client = client_for(context)

    @asynccontextmanager
    async def open_remote() -> AsyncIterator[RemoteApi]:
        async with client:
            identity = await whoami(client, context.url, context.name)
            yield Remote(client, identity)

    return open_remote


def run_tui(open_remote: OpenRemote, settings: TuiSettings) -> int:
    """Run the app in this terminal until the user quits; the exit status."""
    app = make_app(open_remote, settings)
    app.run()
    return int(app.return_code or 0)


__all__ = ["KEYS", "Identity", "OcisApp", "make_app", "remote_for_context", "run_tui"]
