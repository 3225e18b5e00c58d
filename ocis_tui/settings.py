"""The TUI's settings: the `[tui]` table of the client config file (theme, key remapping), NO_COLOR.

    [tui]
    theme = "nord"
    [tui.keys]
    delete = "x,delete"      # binding id = comma-separated keys (see `?` for the ids)
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_THEME = "textual-dark"


class SettingsError(Exception):
    """The `[tui]` table is not what we can use (wrong types, unknown binding id)."""


@dataclass(frozen=True, slots=True)
class TuiSettings:
    theme: str = DEFAULT_THEME
    keys: dict[str, str] = field(default_factory=dict)   # binding id -> "k1,k2"
    no_color: bool = False      # NO_COLOR is set: Textual then renders in monochrome itself
    readonly: bool = False


def load_settings(path: Path | None, *, readonly: bool = False,
                  environ: Mapping[str, str] | None = None) -> TuiSettings:
    """Read `[tui]` from the config file (absent file or table: defaults)."""
    env = os.environ if environ is None else environ
    table: Any = {}
    if path is not None and path.exists():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("tui", {})
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
    return settings_from_table(table, readonly=readonly,
                               no_color=bool(env.get("NO_COLOR")))   # https://no-color.org


def settings_from_table(table: Any, *, readonly: bool = False,
                        no_color: bool = False) -> TuiSettings:
    if not isinstance(table, dict):
        raise SettingsError("[tui] must be a table")
    from ocis_tui.bindings import BINDING_IDS

    theme = table.get("theme", DEFAULT_THEME)
    if not isinstance(theme, str) or not theme:
        raise SettingsError("[tui] theme must be a theme name, e.g. \"nord\"")
    keys = table.get("keys", {})
    if not isinstance(keys, dict):
        raise SettingsError("[tui.keys] must be a table of binding id = \"key,key\"")
    out: dict[str, str] = {}
    for binding_id, value in keys.items():
        if binding_id not in BINDING_IDS:
            known = ", ".join(sorted(BINDING_IDS))
            raise SettingsError(f"[tui.keys] {binding_id!r} is not a binding id (known: {known})")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f"[tui.keys] {binding_id} must be a key or a list of keys")
        out[binding_id] = ",".join(k.strip() for k in value.split(",") if k.strip())
    return TuiSettings(theme=theme, keys=out, no_color=no_color, readonly=readonly)
