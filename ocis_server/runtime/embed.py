"""Run a whole server inside a test (or any asyncio program): `async with embedded_server(cfg) as srv`.

With `PROXY_HTTP_ADDR` / `OCIS_RUNTIME_PORT` on port 0 each instance gets free ports, so tests run
side by side; `srv.url` is the proxy's base URL and `srv.ctx` the services' shared context.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from ocis_server.config import Config, load_config, run_init
from ocis_server.services import SERVICES, ServiceSpec
from ocis_server.services.context import ServiceContext

from .instance import Runtime
from .supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class EmbeddedServer:
    url: str               # e.g. http://127.0.0.1:41234 (no trailing slash)
    runtime_url: str       # the control API
    ctx: ServiceContext
    supervisor: Supervisor
    config: Config


@asynccontextmanager
async def embedded_server(config: Config, *, only: Sequence[str] | None = None,
                          specs: Sequence[ServiceSpec] = SERVICES) -> AsyncIterator[EmbeddedServer]:
    """Start the selected services in this event loop; stop them gracefully on exit."""
    runtime = Runtime(config, only=only, specs=specs)
    await runtime.start()
    assert runtime.ctx is not None and runtime.supervisor is not None
    try:
        yield EmbeddedServer(runtime.url, runtime.runtime_url, runtime.ctx, runtime.supervisor,
                             runtime.config)
    finally:
        await runtime.stop()


def make_test_config(base: Path, *, admin_password: str = "admin", demo_users: bool = True,
                basic_auth: bool = True, **env: str) -> Config:
    """An initialised config under `base` (config in base/config, data in base/data) listening on
    free ports: what a test needs for `embedded_server`. Extra env vars override anything."""
    values = {"OCIS_CONFIG_DIR": str(base / "config"), "OCIS_BASE_DATA_PATH": str(base / "data"),
              "PROXY_HTTP_ADDR": "127.0.0.1:0", "OCIS_RUNTIME_PORT": "0", "IDM_LDAPS_ADDR": "127.0.0.1:0",
              "PROXY_ENABLE_BASIC_AUTH": "true" if basic_auth else "false",
              "IDM_CREATE_DEMO_USERS": "true" if demo_users else "false",
              "OCIS_INSECURE": "true", "OCIS_WORKERS": "1", **env}
    if not (base / "config" / "ocis.toml").exists():
        run_init(insecure=True, admin_password=admin_password, force_overwrite=False, env=values)
    return load_config(values)


