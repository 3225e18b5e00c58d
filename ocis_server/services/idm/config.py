"""Settings of the idm service, read from the one Config (IDM_* variables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ocis_server.config import Config

MAX_PDU = 256 * 1024          # one request: binds, searches and compares are small
MAX_PAGED_SEARCHES = 8        # paged result sets one connection may keep open
WRITE_BUFFER_HIGH = 256 * 1024


@dataclass(frozen=True, slots=True)
class IdmSettings:
    ldaps_addr: str
    ldap_addr: str               # plain LDAP, StartTLS required before a bind; "" = off
    cert: Path
    key: Path
    sysusers: dict[str, str]     # service account -> password ("" = cannot bind)
    allow_anonymous: bool
    size_limit: int
    time_limit: int
    max_connections: int
    idle_timeout: float

    @classmethod
    def from_config(cls, config: Config) -> IdmSettings:
        base = config.base_data_path / "idm"
        return cls(
            ldaps_addr=config.idm_ldaps_addr, ldap_addr=config.idm_ldap_addr,
            cert=Path(config.idm_ldaps_cert).expanduser() if config.idm_ldaps_cert else base / "ldap.crt",
            key=Path(config.idm_ldaps_key).expanduser() if config.idm_ldaps_key else base / "ldap.key",
            sysusers={"libregraph": config.idm_svc_password, "idp": config.idm_idp_password,
                      "reva": config.idm_reva_password},
            allow_anonymous=config.idm_allow_anonymous, size_limit=max(0, config.idm_size_limit),
            time_limit=max(0, config.idm_time_limit),
            max_connections=max(1, config.idm_max_connections),
            idle_timeout=config.idm_idle_timeout)
