"""What the runtime tells its operator at start and stop: one line per listener, "ready" once
every service is, one line on shutdown. Printed at any OCIS_LOG_LEVEL (logger `ocis.server`)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from ocis_server.config import Config, split_addr

from .listener import ProxyUnit
from .units import IdmUnit, Unit

announce = logging.getLogger("ocis.server")


def setup_announce(stream: Any) -> None:
    """Give the announcements their own handler, so the default level (error) keeps them."""
    announce.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    announce.addHandler(handler)
    announce.setLevel(logging.INFO)
    announce.propagate = False


def _busy(host: str, port: int) -> bool:
    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                                  else socket.AF_INET):
            return False
    except OSError:
        return True


def free_if_busy(config: Config, runtime_port: int) -> Config:
    """A derived LDAPS port another program holds becomes "any free port" (0). The runtime port is
    handled by its bind; the caller passes the port it ended up with."""
    import dataclasses

    changes: dict[str, Any] = {"runtime_port": runtime_port}
    if config.origin("idm_ldaps_addr").kind == "default":
        host, port = split_addr(config.idm_ldaps_addr)
        if port and _busy(host, port):
            changes["idm_ldaps_addr"] = f"{host}:0"
    return dataclasses.replace(config, **changes)


def _host(host: str) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def listeners(config: Config, runtime_url: str, units: Sequence[Unit],
              debug: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(what, URL, note) of every listener this instance opened."""
    found: list[tuple[str, str, str]] = []
    for unit in units:
        if isinstance(unit, ProxyUnit):
            host, port = unit.address
            url = f"http://{_host(host)}:{port}"
            note = f" (public URL {config.ocis_url})" if config.ocis_url.rstrip("/") != url else ""
            found.append(("proxy", url, note))
        elif isinstance(unit, IdmUnit) and unit.server is not None:
            host = _host(split_addr(config.idm_ldaps_addr)[0])
            found.append(("idm", f"ldaps://{host}:{unit.server.ldaps_port}", ""))
            if unit.server.ldap_port:
                found.append(("idm", f"ldap://{host}:{unit.server.ldap_port}", " (StartTLS)"))
    found.append(("runtime", runtime_url, " (ocis list, ocis health)"))
    found.extend((f"{name} debug", url, " (/healthz, /readyz, /replay)" if name == "proxy"
                  else " (/healthz, /readyz)") for name, url in debug)
    return found
