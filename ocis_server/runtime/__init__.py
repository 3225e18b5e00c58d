"""The runtime: supervisor, proxy (the public front door), control API and the embedding API.

Attributes load lazily so `import ocis_server.runtime` (e.g. for `ocis --help`) pulls in no aiohttp.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"EmbeddedServer": "embed", "embedded_server": "embed", "make_test_config": "embed",
            "run_server": "main", "Runtime": "instance", "select_services": "instance"}
__all__ = ["EmbeddedServer", "Runtime", "embedded_server", "make_test_config", "run_server",
           "select_services"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ocis_server.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
