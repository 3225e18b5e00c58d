"""The one configuration schema: every setting with its type, default, TOML key and env vars.

Defaults, `ocis.toml` keys, environment overrides and `ocis config show --origin` are all read from
`FIELDS`. Env vars are listed in precedence order: the service-specific name beats the global one,
as in oCIS (`PROXY_LOG_LEVEL` before `OCIS_LOG_LEVEL`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    attr: str                  # attribute of Config
    key: str                   # dotted key in ocis.toml ("proxy.http_addr")
    type: str                  # str | int | float | bool | path | list | addr
    default: object
    env: tuple[str, ...]       # highest precedence first
    description: str
    secret: bool = False       # masked by `ocis config show`
    in_file: bool = True       # False: only default/env (e.g. where the file itself lives)


def _debug(service: str, env_prefix: str) -> Field:
    return Field(f"{service.replace('-', '_')}_debug_addr", f"{service}.debug_addr", "addr", "",
                 (f"{env_prefix}_DEBUG_ADDR",),
                 f"address of the {service} debug listener (/healthz, /readyz); empty = off")


FIELDS: tuple[Field, ...] = (
    # --- where things live -----------------------------------------------------------------
    Field("config_dir", "config_dir", "path", "~/.ocis/config", ("OCIS_CONFIG_DIR",),
          "directory holding ocis.toml", in_file=False),
    Field("base_data_path", "base_data_path", "path", "~/.ocis", ("OCIS_BASE_DATA_PATH",),
          "root of all data: storage/users, idm"),
    # --- public face -----------------------------------------------------------------------
    Field("ocis_url", "ocis_url", "str", "http://127.0.0.1:9200", ("OCIS_URL",),
          "public URL clients use; links and upload locations are built from it"),
    Field("insecure", "insecure", "bool", False, ("OCIS_INSECURE",),
          "plain HTTP / no TLS verification between services (development setups)"),
    Field("log_level", "log.level", "str", "error", ("OCIS_LOG_LEVEL",),
          "debug | info | warning | error"),
    # --- proxy -----------------------------------------------------------------------------
    Field("proxy_http_addr", "proxy.http_addr", "addr", "127.0.0.1:9200", ("PROXY_HTTP_ADDR",),
          "address the public HTTP listener binds to (port 0 = any free port)"),
    Field("basic_auth", "proxy.enable_basic_auth", "bool", False, ("PROXY_ENABLE_BASIC_AUTH",),
          "accept HTTP Basic with the user's password (tests and WebDAV clients)"),
    Field("proxy_header_read_timeout", "proxy.header_read_timeout", "float", 10.0,
          ("PROXY_HEADER_READ_TIMEOUT",),
          "seconds a new connection may take to send its request headers (slowloris guard)"),
    Field("proxy_idle_timeout", "proxy.idle_timeout", "float", 75.0, ("PROXY_IDLE_TIMEOUT",),
          "seconds an idle keep-alive connection stays open; also how long a request body may "
          "stall between chunks before the connection is closed"),
    Field("proxy_max_body_size", "proxy.max_body_size", "int", 16 * 1024 * 1024,
          ("PROXY_MAX_BODY_SIZE",),
          "bytes a request body read in one piece may have (XML/JSON); uploads stream and are not capped"),
    Field("proxy_max_header_size", "proxy.max_header_size", "int", 8190,
          ("PROXY_MAX_HEADER_SIZE",), "bytes of one request header line"),
    Field("proxy_shutdown_timeout", "proxy.shutdown_timeout", "float", 20.0,
          ("PROXY_SHUTDOWN_TIMEOUT",), "seconds in-flight requests get to finish at shutdown"),
    # --- secrets and ids from `ocis init` ----------------------------------------------------
    Field("jwt_secret", "token_manager.jwt_secret", "str", "", ("OCIS_JWT_SECRET",),
          "signs internal tokens", secret=True),
    Field("transfer_secret", "transfer_secret", "str", "",
          ("STORAGE_USERS_TRANSFER_SECRET", "OCIS_TRANSFER_SECRET"),
          "signs upload/download transfer tokens", secret=True),
    Field("machine_auth_api_key", "machine_auth_api_key", "str", "",
          ("OCIS_MACHINE_AUTH_API_KEY",), "lets services act for a user", secret=True),
    Field("admin_user_id", "admin_user_id", "str", "", ("IDM_ADMIN_USER_ID", "OCIS_ADMIN_USER_ID"),
          "user id of the admin created at first start"),
    Field("storage_id", "storage_users.mount_id", "str", "",
          ("STORAGE_USERS_MOUNT_ID", "GATEWAY_STORAGE_USERS_MOUNT_ID"),
          "storage id of the users storage provider (first part of every space id)"),
    Field("upload_expiration", "storage_users.upload_expiration", "int", 86400,
          ("STORAGE_USERS_UPLOAD_EXPIRATION",),
          "seconds an unfinished upload session (TUS, chunking NG) is kept; expired ones are cleaned"),
    # --- identity ----------------------------------------------------------------------------
    Field("admin_password", "idm.admin_password", "str", "", ("IDM_ADMIN_PASSWORD",),
          "password of the admin user; only used when the admin is created", secret=True),
    Field("create_demo_users", "idm.create_demo_users", "bool", False, ("IDM_CREATE_DEMO_USERS",),
          "create einstein, marie, moss, richard, katherine at first start"),
    Field("idm_ldaps_addr", "idm.ldaps_addr", "addr", "127.0.0.1:9235", ("IDM_LDAPS_ADDR",),
          "address of the read-only LDAP view (reserved)"),
    # --- runtime -----------------------------------------------------------------------------
    Field("runtime_host", "runtime.host", "str", "127.0.0.1", ("OCIS_RUNTIME_HOST",),
          "host of the runtime control API (ocis list / health)"),
    Field("runtime_port", "runtime.port", "int", 9250, ("OCIS_RUNTIME_PORT",),
          "port of the runtime control API (0 = any free port)"),
    Field("run_services", "runtime.services", "list", [], ("OCIS_RUN_SERVICES",),
          "run exactly these services (comma separated)"),
    Field("exclude_run_services", "runtime.disabled_services", "list", [],
          ("OCIS_EXCLUDE_RUN_SERVICES",), "default services not to run"),
    Field("add_run_services", "runtime.additional_services", "list", [],
          ("OCIS_ADD_RUN_SERVICES",), "opt-in services to run as well"),
    Field("restart_backoff", "runtime.restart_backoff", "float", 1.0,
          ("OCIS_RUNTIME_RESTART_BACKOFF",),
          "seconds before the first restart of a crashed service; doubles per failure"),
    Field("max_failures", "runtime.max_failures", "int", 5, ("OCIS_RUNTIME_MAX_FAILURES",),
          "consecutive failures of one service after which the runtime gives up"),
    Field("health_interval", "runtime.health_interval", "float", 10.0,
          ("OCIS_RUNTIME_HEALTH_INTERVAL",),
          "seconds between background health checks of storage and user store"),
    Field("event_loop", "runtime.event_loop", "str", "uvloop", ("OCIS_EVENT_LOOP",),
          "asyncio event loop of the server: uvloop (faster; falls back to asyncio when the "
          "package is missing) | asyncio"),
    # --- debug listeners (off by default so two instances never collide) ----------------------
    _debug("proxy", "PROXY"),
    _debug("ocdav", "OCDAV"),
    _debug("frontend", "FRONTEND"),
    _debug("graph", "GRAPH"),
    _debug("storage-users", "STORAGE_USERS"),
    _debug("users", "USERS"),
)


def by_attr() -> dict[str, Field]:
    return {f.attr: f for f in FIELDS}


def by_key() -> dict[str, Field]:
    return {f.key: f for f in FIELDS}
