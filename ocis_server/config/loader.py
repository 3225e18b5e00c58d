"""Resolve the configuration: schema default < `ocis.toml` < environment, remembering each origin."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import OcisError

from .schema import FIELDS, Field, by_attr, by_key

CONFIG_FILE = "ocis.toml"
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


class ConfigError(OcisError):
    """The configuration is missing or invalid."""

    code = "configError"


@dataclass(frozen=True, slots=True)
class Origin:
    kind: str          # default | file | env
    source: str = ""   # the env var name or the file path

    def __str__(self) -> str:
        return f"{self.kind} ({self.source})" if self.source else self.kind


@dataclass(slots=True)
class Config:
    config_dir: Path
    base_data_path: Path
    ocis_url: str
    insecure: bool
    log_level: str
    proxy_http_addr: str
    basic_auth: bool
    proxy_header_read_timeout: float
    proxy_idle_timeout: float
    proxy_forward_connect_timeout: float
    proxy_forward_read_timeout: float
    proxy_max_body_size: int
    proxy_max_header_size: int
    proxy_shutdown_timeout: float
    proxy_max_connections: int
    proxy_max_connections_per_address: int
    proxy_reserved_descriptors: int
    proxy_body_min_bytes: int
    proxy_body_rate_window: float
    jwt_secret: str
    transfer_secret: str
    machine_auth_api_key: str
    admin_user_id: str
    storage_id: str
    storage_extra_mount_ids: list[str]
    storage_personal_mount_id: str
    storage_project_mount_id: str
    storage_users_ocis_root: str
    upload_expiration: int
    free_space_reserve: int
    spaces_default_quota: int
    personal_spaces_default_quota: int
    admin_password: str
    create_demo_users: bool
    idm_ldaps_addr: str
    storage_users_http_addr: str
    idm_ldap_addr: str
    idm_ldaps_cert: str
    idm_ldaps_key: str
    idm_svc_password: str
    idm_idp_password: str
    idm_reva_password: str
    idm_allow_anonymous: bool
    idm_size_limit: int
    idm_time_limit: int
    idm_max_connections: int
    idm_idle_timeout: float
    graph_application_id: str
    graph_include_ocm_sharees: bool
    database_url: str
    ldap_uri: str
    ldap_insecure: bool
    ldap_cacert: str
    ldap_bind_dn: str
    ldap_bind_password: str
    ldap_user_base_dn: str
    ldap_group_base_dn: str
    ldap_user_scope: str
    ldap_group_scope: str
    ldap_user_filter: str
    ldap_group_filter: str
    ldap_user_objectclass: str
    ldap_group_objectclass: str
    ldap_user_schema_id: str
    ldap_user_schema_id_is_octetstring: bool
    ldap_user_schema_username: str
    ldap_user_schema_mail: str
    ldap_user_schema_displayname: str
    ldap_user_schema_user_type: str
    ldap_group_schema_id: str
    ldap_group_schema_groupname: str
    ldap_group_schema_member: str
    ldap_disable_user_mechanism: str
    ldap_user_enabled_attribute: str
    ldap_disabled_users_group_dn: str
    ldap_write_enabled: bool
    ldap_pool_size: int
    ldap_timeout: float
    oidc_issuer: str
    oidc_trusted_issuers: list[str]
    oidc_issuers: list[dict[str, Any]]
    oidc_audiences: list[str]
    oidc_jwks_refresh_rate_limit: float
    oidc_jwks_refresh_interval: float
    user_oidc_claim: str
    user_cs3_claim: str
    autoprovision_accounts: bool
    app_auth: bool
    auth_app_impersonation: bool
    trusted_proxies: list[str]
    cors_allow_origins: list[str]
    cors_allow_methods: list[str]
    cors_allow_headers: list[str]
    cors_allow_credentials: bool
    ocdav_allow_propfind_depth_infinity: bool
    ocdav_propfind_depth_infinity_max_entries: int
    login_max_failures: int
    login_max_failures_per_address: int
    login_failure_window: float
    login_failure_delay: float
    login_failure_max_delay: float
    login_max_waiting: int
    webfinger_instance_url: str
    webfinger_instances: list[dict[str, Any]]
    idp_access_token_expiration: int
    idp_id_token_expiration: int
    idp_refresh_token_expiration: int
    idp_signing_method: str
    idp_key_rotation_interval: float
    idp_device_poll_interval: int
    idp_trusted_clients: list[str]
    disable_previews: bool
    thumbnails_resolutions: list[str]
    thumbnails_max_input_width: int
    thumbnails_max_input_height: int
    thumbnails_max_input_image_file_size: str
    thumbnails_filesystemstorage_root: str
    thumbnails_cache_max_size: str
    thumbnails_max_concurrent_requests: int
    sharing_auto_accept: bool
    default_language: str
    presigned_urls: bool
    presigned_url_methods: list[str]
    public_share_must_have_password: bool
    public_writeable_share_must_have_password: bool
    federated_sharing_outgoing: bool
    federated_sharing_incoming: bool
    enable_ocm: bool
    ocm_domain: str
    ocm_providers_file: str
    ocm_invite_manager_insecure: bool
    ocm_invite_token_expiration: str
    ocm_require_invite: bool
    ocm_verify_request_hostname: bool
    ocm_share_provider_insecure: bool
    ocm_storage_provider_insecure: bool
    ocm_expose_recipient_display_name: bool
    ocm_connect_timeout: float
    ocm_timeout: float
    ocm_max_response_size: int
    sse_keepalive_interval: float
    sse_max_streams_per_user: int
    sse_buffer_size: int
    sse_replay_window: float
    sse_replay_size: int
    events_endpoint: str
    events_cluster: str
    events_ack_wait: float
    events_outbox_size: int
    registry: str
    registry_address: str
    register_ttl: float
    register_interval: float
    runtime_host: str
    runtime_port: int
    run_services: list[str]
    exclude_run_services: list[str]
    add_run_services: list[str]
    restart_backoff: float
    max_restart_backoff: float
    max_failures: int
    health_interval: float
    event_loop: str
    workers: int
    workers_debug: bool
    proxy_debug_addr: str
    ocdav_debug_addr: str
    frontend_debug_addr: str
    graph_debug_addr: str
    storage_users_debug_addr: str
    users_debug_addr: str
    idm_debug_addr: str
    idp_debug_addr: str
    ocm_debug_addr: str
    sse_debug_addr: str
    origins: dict[str, Origin] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        """Secrets stay out of logs and tracebacks."""
        shown = ", ".join(f"{f.attr}={'***' if f.secret and getattr(self, f.attr) else repr(getattr(self, f.attr))}"
                          for f in FIELDS)
        return f"Config({shown})"

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def initialized(self) -> bool:
        """True when `ocis init` has written the config file."""
        return self.config_file.is_file()

    @property
    def users_root(self) -> Path:
        """The storage provider's data folder: STORAGE_USERS_OCIS_ROOT, by default
        `<base_data_path>/storage/users`."""
        if self.storage_users_ocis_root:
            return Path(self.storage_users_ocis_root).expanduser()
        return Path(self.base_data_path) / "storage" / "users"

    def origin(self, key: str) -> Origin:
        """Where a value came from; `key` is the attribute name or the dotted TOML key."""
        spec = by_attr().get(key) or by_key().get(key)
        if spec is None:
            raise KeyError(key)
        return self.origins.get(spec.attr, Origin("default"))

    def debug_addr(self, service: str) -> str:
        """The debug listener address of a service, "" when it is off."""
        value = getattr(self, f"{service.replace('-', '_')}_debug_addr", "")
        return value if isinstance(value, str) else ""

    def items(self) -> Iterator[tuple[Field, Any, Origin]]:
        """Every setting with its schema field, value and origin (for `ocis config show`)."""
        for spec in FIELDS:
            yield spec, getattr(self, spec.attr), self.origin(spec.attr)

    def require_initialized(self) -> None:
        """Refuse to serve without the secrets and ids `ocis init` generates."""
        if not self.initialized:
            raise ConfigError(f"no configuration at {self.config_file}: run `ocis init` first")
        missing = [f.key for f in FIELDS if f.attr in _REQUIRED and not getattr(self, f.attr)]
        if missing:
            raise ConfigError(f"{self.config_file} lacks {', '.join(missing)}: "
                              "run `ocis init --force-overwrite` to regenerate it")


_REQUIRED = ("jwt_secret", "transfer_secret", "machine_auth_api_key", "admin_user_id", "storage_id")


def parse_value(spec: Field, raw: object, where: str) -> Any:
    """Convert a TOML or env value to the field's type; ConfigError names the culprit."""
    try:
        return _convert(spec.type, raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid value for {spec.key} from {where}: {raw!r} ({exc})") from None


def _convert(kind: str, raw: object) -> Any:
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected true or false")
    if kind == "int":
        if isinstance(raw, bool):
            raise TypeError("expected an integer")
        return int(str(raw).strip())
    if kind == "float":
        if isinstance(raw, bool):
            raise TypeError("expected a number")
        return float(str(raw).strip())
    if kind == "path":
        return Path(str(raw)).expanduser()
    if kind == "list":
        if isinstance(raw, list):
            return [str(item).strip() for item in raw if str(item).strip()]
        return [part.strip() for part in str(raw).split(",") if part.strip()]
    if kind == "tables":      # TOML array of tables ([[x.y]]), or the same as JSON in an env var
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.strip() else []
        if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
            raise TypeError("expected an array of tables")
        return [dict(item) for item in raw]
    if kind == "addr":
        text = str(raw).strip()
        if text:
            split_addr(text)
        return text
    if not isinstance(raw, (str, int, float)):
        raise TypeError("expected a string")
    return str(raw)


def split_addr(addr: str) -> tuple[str, int]:
    """`host:port` -> (host, port); `[::1]:80` for IPv6. ValueError when malformed."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port, got {addr!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def read_file(path: Path) -> dict[str, Any]:
    """The flattened `{dotted.key: value}` content of ocis.toml, {} when it does not exist."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    flat: dict[str, Any] = {}
    _flatten(data, "", flat)
    return flat


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, dotted + ".", out)
        else:
            out[dotted] = value


def _from_env(spec: Field, env: Mapping[str, str]) -> tuple[str, str] | None:
    for name in spec.env:
        if name in env:
            return name, env[name]
    return None


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then `$OCIS_CONFIG_DIR/ocis.toml`, then env vars (service-specific first)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    config_spec = by_attr()["config_dir"]
    found = _from_env(config_spec, env)
    config_dir = parse_value(config_spec, found[1] if found else config_spec.default,
                             found[0] if found else "default")
    path = config_dir / CONFIG_FILE
    in_file = read_file(path)
    known = {f.key for f in FIELDS if f.in_file}
    unknown = sorted(set(in_file) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    for spec in FIELDS:
        value = parse_value(spec, spec.default, "default")
        origin = Origin("default")
        if spec.in_file and spec.key in in_file:
            value = parse_value(spec, in_file[spec.key], str(path))
            origin = Origin("file", str(path))
        from_env = _from_env(spec, env)
        if from_env is not None:
            value = parse_value(spec, from_env[1], from_env[0])
            origin = Origin("env", from_env[0])
        values[spec.attr] = value
        origins[spec.attr] = origin
    return Config(**values, origins=origins)
