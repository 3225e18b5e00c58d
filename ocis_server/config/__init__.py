"""Configuration: one schema drives defaults, ocis.toml keys, env overrides and origins; `ocis init`.

Imports nothing of ours but the domain, so the CLI can use it offline.
"""

from .init import InitResult, run_init
from .loader import CONFIG_FILE, Config, ConfigError, Origin, load_config, split_addr
from .schema import FIELDS, Field

__all__ = ["CONFIG_FILE", "FIELDS", "Config", "ConfigError", "Field", "InitResult", "Origin",
           "load_config", "run_init", "split_addr"]
