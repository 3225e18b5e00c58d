"""Configuration: one schema drives defaults, ocis.toml keys, env overrides and origins; `ocis init`.

Imports nothing of ours but the domain, so the CLI can use it offline. `ocis init` (tomlkit, and
cryptography for the IDM certificate) loads on first use: a running server never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .loader import CONFIG_FILE, Config, ConfigError, Origin, load_config, split_addr
from .schema import FIELDS, Field

if TYPE_CHECKING:
    from .init import InitResult, run_init

__all__ = ["CONFIG_FILE", "FIELDS", "Config", "ConfigError", "Field", "InitResult", "Origin",
           "load_config", "run_init", "split_addr"]


def __getattr__(name: str) -> Any:
    if name in ("InitResult", "run_init"):
        from . import init

        return getattr(init, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
