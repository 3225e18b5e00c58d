"""The command palette (`:` or ctrl+p): every key's action by name, and `space NAME` to jump."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ocis_tui.bindings import KEYS, display, effective_keys

if TYPE_CHECKING:
    from ocis_tui.screens.browser import BrowserScreen


class BrowserCommands(Provider):
    def _choices(self) -> list[tuple[str, str, Callable[[], object]]]:
        screen: BrowserScreen = self.screen  # type: ignore[assignment]
        keys = screen.settings.keys
        out: list[tuple[str, str, Callable[[], object]]] = []
        for key in KEYS:
            if key.action == "command_palette":
                continue
            out.append((key.description.split(" (")[0],
                        f"key: {display(effective_keys(key, keys))}",
                        partial(screen.run_action, key.action)))
        from ocis_tui.widgets.spaces import SpacesList

        for drive in screen.query_one(SpacesList).drives.values():
            out.append((f"space {drive.name}", f"open the {drive.drive_type} space",
                        partial(screen.open_drive, drive)))
        return out

    async def discover(self) -> Hits:
        for text, help_text, run in self._choices():
            yield DiscoveryHit(text, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, run in self._choices():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), run, help=help_text)
