"""The ports of one instance, so that two instances on one machine never collide.

Unless set, the runtime control port and idm's LDAPS port follow the HTTP port at oCIS's default
distances (9200 -> 9250 and 9235, oCIS's own defaults). What a running instance really bound is
recorded in `<config dir>/runtime.json`, which `ocis health` and `ocis list` read to find it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .loader import Config, split_addr

RUNTIME_OFFSET = 50        # 9200 -> 9250
LDAPS_OFFSET = 35          # 9200 -> 9235
STATE_FILE = "runtime.json"


def derived_port(http_port: int, offset: int) -> int:
    """The port `offset` above the HTTP port; 0 (any free port) when there is none."""
    port = http_port + offset
    return port if 0 < http_port and port <= 65535 else 0


def _is_default(config: Config, attr: str) -> bool:
    return config.origin(attr).kind == "default"


def with_derived_ports(config: Config, http_port: int) -> Config:
    """`config` with the runtime and LDAPS ports derived from `http_port` where they were not set
    in ocis.toml or the environment."""
    changes: dict[str, Any] = {}
    if _is_default(config, "runtime_port"):
        changes["runtime_port"] = derived_port(http_port, RUNTIME_OFFSET)
    if _is_default(config, "idm_ldaps_addr"):
        host, _ = split_addr(config.idm_ldaps_addr)
        changes["idm_ldaps_addr"] = f"{host}:{derived_port(http_port, LDAPS_OFFSET)}"
    return dataclasses.replace(config, **changes) if changes else config


def configured_http_port(config: Config) -> int:
    try:
        return split_addr(config.proxy_http_addr)[1]
    except ValueError:
        return 0


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(config_dir: Path) -> dict[str, Any] | None:
    """What the instance of this config dir announced at start, None when none runs."""
    try:
        state = json.loads((config_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _alive(state.get("pid")):
        return None
    return state


def write_state(config_dir: Path, state: dict[str, Any]) -> bool:
    """Record a running instance's addresses; False when the config dir is not writable."""
    path = config_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({**state, "pid": os.getpid()}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def remove_state(config_dir: Path) -> None:
    """Forget this process's record (another instance's is left alone)."""
    path = config_dir / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(state, dict) and state.get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        return


def runtime_address(config: Config) -> tuple[str, int, dict[str, Any] | None]:
    """Where the control API of this config's instance listens: OCIS_RUNTIME_PORT when set, else
    what the running instance recorded, else the port derived from PROXY_HTTP_ADDR."""
    if not _is_default(config, "runtime_port"):
        return config.runtime_host, int(config.runtime_port), None
    state = read_state(config.config_dir)
    runtime = state.get("runtime") if state else None
    if isinstance(runtime, str):
        with contextlib.suppress(ValueError):
            host, port = split_addr(runtime)
            return host, port, state
    port = derived_port(configured_http_port(config), RUNTIME_OFFSET) or int(config.runtime_port)
    return config.runtime_host, port, None
