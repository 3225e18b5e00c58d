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
    Field("proxy_forward_connect_timeout", "proxy.forward_connect_timeout", "float", 5.0,
          ("PROXY_FORWARD_CONNECT_TIMEOUT",),
          "seconds the proxy waits for another node's proxy to take the connection when it "
          "forwards a request there (MICRO_REGISTRY=nats-js-kv); past it the next instance is "
          "tried; 0 = no limit"),
    Field("proxy_forward_read_timeout", "proxy.forward_read_timeout", "float", 300.0,
          ("PROXY_FORWARD_READ_TIMEOUT",),
          "longest silence, in seconds, of another node the proxy forwarded a request to, "
          "before or within its answer: then 502, or the client connection cut; 0 = no limit"),
    Field("proxy_max_connections", "proxy.max_connections", "int", 4096,
          ("PROXY_MAX_CONNECTIONS",),
          "open client connections at most; at the cap the longest idle keep-alive connection "
          "is closed for a new one, or accepting waits. Lowered to the descriptor limit minus "
          "the reserve when that is smaller"),
    Field("proxy_max_connections_per_address", "proxy.max_connections_per_address", "int", 256,
          ("PROXY_MAX_CONNECTIONS_PER_ADDRESS",),
          "open connections from one client address (an IPv6 /64) at most; beyond it its "
          "longest idle one is closed, or the new one gets 503 (0 = no per-address cap; "
          "PROXY_TRUSTED_PROXIES have none)"),
    Field("proxy_reserved_descriptors", "proxy.reserved_descriptors", "int", 256,
          ("PROXY_RESERVED_FILE_DESCRIPTORS",),
          "file descriptors client connections may never take: uploads, SQLite and the LDAP "
          "client need them (the idm listener's IDM_MAX_CONNECTIONS are kept apart too)"),
    Field("proxy_body_min_bytes", "proxy.body_min_bytes", "int", 1024, ("PROXY_BODY_MIN_BYTES",),
          "bytes of a request body that must arrive in every PROXY_BODY_RATE_WINDOW seconds; a "
          "body that trickles slower is cut off (0 = no minimum rate)"),
    Field("proxy_body_rate_window", "proxy.body_rate_window", "float", 30.0,
          ("PROXY_BODY_RATE_WINDOW",), "seconds over which the minimum body rate is measured"),
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
    Field("storage_extra_mount_ids", "storage_users.extra_mount_ids", "list", [],
          ("STORAGE_USERS_EXTRA_MOUNT_IDS",),
          "mount ids of more storage providers this process runs beside the one of "
          "STORAGE_USERS_MOUNT_ID, each with its data folder <base_data_path>/storage/users-<id>; "
          "with any, a storage router places new spaces and routes requests (docs/scaling.md)"),
    Field("storage_personal_mount_id", "storage_users.personal_spaces_mount_id", "str", "",
          ("STORAGE_USERS_PERSONAL_SPACES_MOUNT_ID",),
          "with several storage providers: the mount id new personal spaces are pinned to; "
          "empty = the provider with the fewest bytes used"),
    Field("storage_project_mount_id", "storage_users.project_spaces_mount_id", "str", "",
          ("STORAGE_USERS_PROJECT_SPACES_MOUNT_ID",),
          "with several storage providers: the mount id new project spaces are pinned to; "
          "empty = the provider with the fewest bytes used"),
    Field("storage_users_ocis_root", "storage_users.ocis_root", "str", "",
          ("STORAGE_USERS_OCIS_ROOT",),
          "data folder of the storage provider (its metadata.db, blobs, uploads); empty = "
          "<base_data_path>/storage/users"),
    Field("storage_users_http_addr", "storage_users.http_addr", "addr", "127.0.0.1:9158",
          ("STORAGE_USERS_HTTP_ADDR",),
          "internal API of the storage provider (machine secret, never public), for fronts on "
          "other processes; served when MICRO_REGISTRY is not memory or this is set (port 0 = "
          "any free port; the default, when busy, gives way to a free port: the registry "
          "carries the URL)"),
    Field("upload_expiration", "storage_users.upload_expiration", "int", 86400,
          ("STORAGE_USERS_UPLOAD_EXPIRATION",),
          "seconds an unfinished upload session (TUS, chunking NG) is kept; expired ones are cleaned"),
    Field("free_space_reserve", "storage_users.free_space_reserve", "int", 64 * 1024 * 1024,
          ("STORAGE_USERS_FREE_SPACE_RESERVE",),
          "bytes of the data disk uploads must leave free: an upload that would leave less is "
          "refused with 507 Insufficient Storage; 0 = only a full disk refuses"),
    Field("spaces_default_quota", "graph.spaces.default_quota", "int", 1_000_000_000,
          ("GRAPH_SPACES_DEFAULT_QUOTA",),
          "quota in bytes of a new project space created without one (1 GB, as oCIS); 0 = unlimited"),
    Field("personal_spaces_default_quota", "graph.spaces.personal_default_quota", "int", 0,
          ("GRAPH_PERSONAL_SPACES_DEFAULT_QUOTA",),
          "quota in bytes of a new personal space; 0 = unlimited"),
    # --- identity ----------------------------------------------------------------------------
    Field("admin_password", "idm.admin_password", "str", "", ("IDM_ADMIN_PASSWORD",),
          "password of the admin user; only used when the admin is created", secret=True),
    Field("create_demo_users", "idm.create_demo_users", "bool", False, ("IDM_CREATE_DEMO_USERS",),
          "create einstein, marie, moss, richard, katherine and oCIS's demo groups (users, "
          "physics-lovers, sailing-lovers, ...) with their members at first start"),
    Field("idm_ldaps_addr", "idm.ldaps_addr", "addr", "127.0.0.1:9235", ("IDM_LDAPS_ADDR",),
          "address of the idm LDAP server (LDAPS, read-only view of users and groups; port 0 = "
          "any free port)"),
    # --- idm: the embedded LDAP server --------------------------------------------------------
    Field("idm_ldap_addr", "idm.ldap_addr", "addr", "", ("IDM_LDAP_ADDR",),
          "address of a plain LDAP listener of idm that requires StartTLS before a bind; empty = off"),
    Field("idm_ldaps_cert", "idm.ldaps_cert", "str", "", ("IDM_LDAPS_CERT",),
          "PEM certificate of the idm listeners; empty = <base_data_path>/idm/ldap.crt "
          "(created by `ocis init`, or at first start when missing)"),
    Field("idm_ldaps_key", "idm.ldaps_key", "str", "", ("IDM_LDAPS_KEY",),
          "PEM private key of that certificate; empty = <base_data_path>/idm/ldap.key"),
    Field("idm_svc_password", "idm.service_user_passwords.idm_password", "str", "",
          ("IDM_SVC_PASSWORD",), "password of uid=libregraph,ou=sysusers (empty = cannot bind)",
          secret=True),
    Field("idm_idp_password", "idm.service_user_passwords.idp_password", "str", "",
          ("IDM_IDPSVC_PASSWORD",), "password of uid=idp,ou=sysusers (empty = cannot bind)",
          secret=True),
    Field("idm_reva_password", "idm.service_user_passwords.reva_password", "str", "",
          ("IDM_REVASVC_PASSWORD",), "password of uid=reva,ou=sysusers (empty = cannot bind)",
          secret=True),
    Field("idm_allow_anonymous", "idm.allow_anonymous_bind", "bool", False,
          ("IDM_ALLOW_ANONYMOUS_BIND",),
          "let clients read the tree without binding (the root DSE is always readable)"),
    Field("idm_size_limit", "idm.size_limit", "int", 1000, ("IDM_SIZE_LIMIT",),
          "most entries one search returns (paged searches page past it); 0 = no limit"),
    Field("idm_time_limit", "idm.time_limit", "int", 60, ("IDM_TIME_LIMIT",),
          "most seconds one search may take; 0 = no limit"),
    Field("idm_max_connections", "idm.max_connections", "int", 256, ("IDM_MAX_CONNECTIONS",),
          "open LDAP connections at most; more are told `busy` and closed"),
    Field("idm_idle_timeout", "idm.idle_timeout", "float", 300.0, ("IDM_IDLE_TIMEOUT",),
          "seconds an LDAP connection may stay silent before it is closed"),
    # --- users: Graph application, LDAP user source (oCIS OCIS_LDAP_*) ---------------------------
    Field("graph_application_id", "graph.application_id", "str", "", ("GRAPH_APPLICATION_ID",),
          "id of the Graph application whose appRoles are the settings roles; empty = derived "
          "from the storage id"),
    Field("graph_include_ocm_sharees", "graph.include_ocm_sharees", "bool", False,
          ("GRAPH_INCLUDE_OCM_SHAREES",),
          "Graph user search (/users?$search=) also lists the caller's federated contacts (OCM "
          "accepted users) as userType Federated"),
    Field("database_url", "database.url", "str", "", ("OCIS_DATABASE_URL",),
          "postgresql://user@host:port/db keeps users, groups, app tokens, the IdP's sessions, "
          "tokens and keys, the login throttle's failures, settings values, signing keys and "
          "the userlog's notifications in "
          "PostgreSQL, shared by several front nodes (docs/scaling.md); empty = SQLite under base_data_path. Give the password "
          "in PGPASSWORD or ~/.pgpass (libpq reads them), not here: `config show` prints this"),
    Field("ldap_uri", "ldap.uri", "str", "", ("USERS_LDAP_URI", "OCIS_LDAP_URI"),
          "ldap:// or ldaps:// URI of an external directory to read users and groups from; "
          "empty = the builtin user store"),
    Field("ldap_insecure", "ldap.insecure", "bool", False, ("USERS_LDAP_INSECURE", "OCIS_LDAP_INSECURE"),
          "do not verify the LDAP server's certificate"),
    Field("ldap_cacert", "ldap.cacert", "str", "", ("USERS_LDAP_CACERT", "OCIS_LDAP_CACERT"),
          "CA certificate (PEM file) that signed the LDAP server's certificate"),
    Field("ldap_bind_dn", "ldap.bind_dn", "str", "", ("USERS_LDAP_BIND_DN", "OCIS_LDAP_BIND_DN"),
          "DN the server binds as to search the directory"),
    Field("ldap_bind_password", "ldap.bind_password", "str", "",
          ("USERS_LDAP_BIND_PASSWORD", "OCIS_LDAP_BIND_PASSWORD"), "password of the bind DN",
          secret=True),
    Field("ldap_user_base_dn", "ldap.user_base_dn", "str", "ou=users,o=libregraph-idm",
          ("USERS_LDAP_USER_BASE_DN", "OCIS_LDAP_USER_BASE_DN"), "where users are searched"),
    Field("ldap_group_base_dn", "ldap.group_base_dn", "str", "ou=groups,o=libregraph-idm",
          ("USERS_LDAP_GROUP_BASE_DN", "OCIS_LDAP_GROUP_BASE_DN"), "where groups are searched"),
    Field("ldap_user_scope", "ldap.user_scope", "str", "sub",
          ("USERS_LDAP_USER_SCOPE", "OCIS_LDAP_USER_SCOPE"), "user search scope: sub | one | base"),
    Field("ldap_group_scope", "ldap.group_scope", "str", "sub",
          ("USERS_LDAP_GROUP_SCOPE", "OCIS_LDAP_GROUP_SCOPE"), "group search scope: sub | one | base"),
    Field("ldap_user_filter", "ldap.user_filter", "str", "",
          ("USERS_LDAP_USER_FILTER", "OCIS_LDAP_USER_FILTER"),
          "extra LDAP filter every user must match, e.g. (memberOf=cn=staff,ou=groups,dc=x)"),
    Field("ldap_group_filter", "ldap.group_filter", "str", "",
          ("USERS_LDAP_GROUP_FILTER", "OCIS_LDAP_GROUP_FILTER"),
          "extra LDAP filter every group must match"),
    Field("ldap_user_objectclass", "ldap.user_objectclass", "str", "inetOrgPerson",
          ("USERS_LDAP_USER_OBJECTCLASS", "OCIS_LDAP_USER_OBJECTCLASS"), "object class of users"),
    Field("ldap_group_objectclass", "ldap.group_objectclass", "str", "groupOfNames",
          ("USERS_LDAP_GROUP_OBJECTCLASS", "OCIS_LDAP_GROUP_OBJECTCLASS"), "object class of groups"),
    Field("ldap_user_schema_id", "ldap.user_schema_id", "str", "ownCloudUUID",
          ("USERS_LDAP_USER_SCHEMA_ID", "OCIS_LDAP_USER_SCHEMA_ID"),
          "attribute holding a user's immutable id (ownCloudUUID, entryUUID, objectGUID, ...)"),
    Field("ldap_user_schema_id_is_octetstring", "ldap.user_schema_id_is_octetstring", "bool", False,
          ("USERS_LDAP_USER_SCHEMA_ID_IS_OCTETSTRING", "OCIS_LDAP_USER_SCHEMA_ID_IS_OCTETSTRING"),
          "the id attribute is binary (Active Directory objectGUID)"),
    Field("ldap_user_schema_username", "ldap.user_schema_username", "str", "uid",
          ("USERS_LDAP_USER_SCHEMA_USERNAME", "OCIS_LDAP_USER_SCHEMA_USERNAME"), "login name attribute"),
    Field("ldap_user_schema_mail", "ldap.user_schema_mail", "str", "mail",
          ("USERS_LDAP_USER_SCHEMA_MAIL", "OCIS_LDAP_USER_SCHEMA_MAIL"), "e-mail attribute"),
    Field("ldap_user_schema_displayname", "ldap.user_schema_displayname", "str", "displayName",
          ("USERS_LDAP_USER_SCHEMA_DISPLAYNAME", "OCIS_LDAP_USER_SCHEMA_DISPLAYNAME"),
          "display name attribute"),
    Field("ldap_user_schema_user_type", "ldap.user_schema_user_type", "str", "ownCloudUserType",
          ("USERS_LDAP_USER_SCHEMA_USER_TYPE", "OCIS_LDAP_USER_SCHEMA_USER_TYPE"),
          "attribute holding Member or Guest (absent = Member)"),
    Field("ldap_group_schema_id", "ldap.group_schema_id", "str", "ownCloudUUID",
          ("USERS_LDAP_GROUP_SCHEMA_ID", "OCIS_LDAP_GROUP_SCHEMA_ID"),
          "attribute holding a group's immutable id"),
    Field("ldap_group_schema_groupname", "ldap.group_schema_groupname", "str", "cn",
          ("USERS_LDAP_GROUP_SCHEMA_GROUPNAME", "OCIS_LDAP_GROUP_SCHEMA_GROUPNAME"), "group name attribute"),
    Field("ldap_group_schema_member", "ldap.group_schema_member", "str", "member",
          ("USERS_LDAP_GROUP_SCHEMA_MEMBER", "OCIS_LDAP_GROUP_SCHEMA_MEMBER"),
          "attribute listing the DNs of a group's members"),
    Field("ldap_disable_user_mechanism", "ldap.disable_user_mechanism", "str", "attribute",
          ("USERS_LDAP_DISABLE_USER_MECHANISM", "OCIS_LDAP_DISABLE_USER_MECHANISM"),
          "how disabled users are recognised: attribute (ownCloudUserEnabled=FALSE) | group "
          "(member of the disabled users group) | none"),
    Field("ldap_user_enabled_attribute", "ldap.user_enabled_attribute", "str", "ownCloudUserEnabled",
          ("USERS_LDAP_USER_ENABLED_ATTRIBUTE", "OCIS_LDAP_USER_ENABLED_ATTRIBUTE"),
          "attribute that is FALSE for a disabled user (disable mechanism `attribute`)"),
    Field("ldap_disabled_users_group_dn", "ldap.disabled_users_group_dn", "str",
          "cn=DisabledUsersGroup,ou=groups,o=libregraph-idm",
          ("USERS_LDAP_DISABLED_USERS_GROUP_DN", "OCIS_LDAP_DISABLED_USERS_GROUP_DN"),
          "group whose members are disabled (disable mechanism `group`)"),
    Field("ldap_write_enabled", "ldap.server_write_enabled", "bool", False,
          ("USERS_LDAP_SERVER_WRITE_ENABLED", "OCIS_LDAP_SERVER_WRITE_ENABLED"),
          "let the server create, change and delete users and groups in the directory "
          "(otherwise it is read-only)"),
    Field("ldap_pool_size", "ldap.pool_size", "int", 4, ("USERS_LDAP_POOL_SIZE",),
          "connections kept open to the LDAP server"),
    Field("ldap_timeout", "ldap.timeout", "float", 10.0, ("USERS_LDAP_TIMEOUT", "OCIS_LDAP_TIMEOUT"),
          "seconds a request waits for the LDAP server before it answers 503 (a directory that "
          "hangs cannot hold requests or the server)"),
    # --- authentication: OIDC trust, app tokens, throttling (proxy) ----------------------------
    Field("oidc_issuer", "oidc.issuer", "str", "", ("PROXY_OIDC_ISSUER", "OCIS_OIDC_ISSUER"),
          "URL of the OpenID Connect issuer clients log in with; empty = OCIS_URL (the embedded IdP)"),
    Field("oidc_trusted_issuers", "oidc.trusted_issuers", "list", [],
          ("OCIS_OIDC_TRUSTED_ISSUERS",),
          "further issuer URLs whose tokens are accepted (comma separated); settings per issuer "
          "in [[oidc.issuers]] tables of ocis.toml"),
    Field("oidc_issuers", "oidc.issuers", "tables", [], ("OCIS_OIDC_ISSUER_SETTINGS",),
          "per-issuer settings: [[oidc.issuers]] issuer, audiences, algorithms, user_oidc_claim, "
          "user_cs3_claim, autoprovision, user_type, role, strict (RFC 9068 at+jwt access tokens "
          "only) (an issuer listed here is trusted); "
          "the env var takes the same as a JSON array"),
    Field("oidc_audiences", "oidc.audiences", "list", [], ("PROXY_OIDC_ACCEPTED_AUDIENCES",),
          "token audiences (client ids) accepted by default; empty = web, ocis-cli and the "
          "ownCloud desktop, Android and iOS client ids"),
    Field("oidc_jwks_refresh_rate_limit", "oidc.jwks_refresh_rate_limit", "float", 60.0,
          ("PROXY_OIDC_JWKS_REFRESH_RATE_LIMIT",),
          "seconds between two fetches of an issuer's keys when a token names an unknown kid"),
    Field("oidc_jwks_refresh_interval", "oidc.jwks_refresh_interval", "float", 3600.0,
          ("PROXY_OIDC_JWKS_REFRESH_INTERVAL",), "seconds an issuer's fetched keys are cached"),
    Field("user_oidc_claim", "proxy.user_oidc_claim", "str", "preferred_username",
          ("PROXY_USER_OIDC_CLAIM",), "token claim that identifies the user"),
    Field("user_cs3_claim", "proxy.user_cs3_claim", "str", "username", ("PROXY_USER_CS3_CLAIM",),
          "user attribute the OIDC claim is matched against: username | userid | mail"),
    Field("autoprovision_accounts", "proxy.autoprovision_accounts", "bool", False,
          ("PROXY_AUTOPROVISION_ACCOUNTS",),
          "create an account (a Guest) for an unknown user of a trusted foreign issuer"),
    Field("app_auth", "proxy.enable_app_auth", "bool", False, ("PROXY_ENABLE_APP_AUTH",),
          "accept app tokens (`ocis auth-app create`) as the HTTP Basic password"),
    Field("auth_app_impersonation", "auth_app.enable_impersonation", "bool", False,
          ("AUTH_APP_ENABLE_IMPERSONATION",),
          "let admins create app tokens for other users (userName / userID); off, as in oCIS"),
    Field("trusted_proxies", "proxy.trusted_proxies", "list", [], ("PROXY_TRUSTED_PROXIES",),
          "addresses or networks of reverse proxies whose X-Forwarded-For is believed"),
    Field("cors_allow_origins", "cors.allow_origins", "list", [], ("OCIS_CORS_ALLOW_ORIGINS",),
          "origins (scheme://host[:port]; `*` any, `https://*.example.org` a wildcard) whose "
          "browser scripts may call the APIs; empty = the origin of OCIS_URL, as in oCIS"),
    Field("cors_allow_methods", "cors.allow_methods", "list",
          ["OPTIONS", "HEAD", "GET", "PUT", "POST", "DELETE", "MKCOL", "PROPFIND", "PROPPATCH",
           "MOVE", "COPY", "REPORT", "SEARCH", "PATCH"], ("OCIS_CORS_ALLOW_METHODS",),
          "methods a CORS preflight may ask for (oCIS's frontend and graph defaults together)"),
    Field("cors_allow_headers", "cors.allow_headers", "list",
          ["Origin", "Accept", "Content-Type", "Depth", "Authorization", "Ocs-Apirequest",
           "If-None-Match", "If-Match", "Destination", "Overwrite", "X-Request-Id",
           "X-Requested-With", "Tus-Resumable", "Tus-Checksum-Algorithm", "Upload-Concat",
           "Upload-Length", "Upload-Metadata", "Upload-Defer-Length", "Upload-Expires",
           "Upload-Checksum", "Upload-Offset", "X-HTTP-Method-Override", "Cache-Control",
           "Purge", "Restore"], ("OCIS_CORS_ALLOW_HEADERS",),
          "request headers a CORS preflight may ask for (oCIS's frontend and graph defaults)"),
    Field("cors_allow_credentials", "cors.allow_credentials", "bool", False,
          ("OCIS_CORS_ALLOW_CREDENTIALS",),
          "answer CORS requests with Access-Control-Allow-Credentials: true (cookies)"),
    Field("login_max_failures", "proxy.login_max_failures", "int", 5,
          ("PROXY_LOGIN_MAX_FAILURES",),
          "failed logins on one account from one client address within the window before that "
          "address gets 429 for that account; past as many failures on the account from all "
          "addresses together, sign-ins to it wait (PROXY_LOGIN_FAILURE_DELAY)"),
    Field("login_max_failures_per_address", "proxy.login_max_failures_per_address", "int", 20,
          ("PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS",),
          "failed logins from one client address (an IPv6 /64) within the window before it gets "
          "429; higher than per account because many people may share one address (NAT)"),
    Field("login_failure_window", "proxy.login_failure_window", "float", 300.0,
          ("PROXY_LOGIN_FAILURE_WINDOW",),
          "seconds failed logins are counted, and how long a throttled address waits"),
    Field("login_failure_delay", "proxy.login_failure_delay", "float", 0.25,
          ("PROXY_LOGIN_FAILURE_DELAY",),
          "seconds a sign-in to an account under attack waits before its password is checked; "
          "doubles with each further failure on the account (never a lockout: a right "
          "password from an address that has not failed gets in)"),
    Field("login_failure_max_delay", "proxy.login_failure_max_delay", "float", 3.0,
          ("PROXY_LOGIN_FAILURE_MAX_DELAY",), "the most a sign-in waits (see PROXY_LOGIN_FAILURE_DELAY)"),
    Field("login_max_waiting", "proxy.login_max_waiting", "int", 256, ("PROXY_LOGIN_MAX_WAITING",),
          "sign-ins that may wait at once; past that, clients whose address has failed get 429 "
          "and the others go on without waiting"),
    Field("webfinger_instance_url", "webfinger.instance_url", "str", "",
          ("WEBFINGER_OWNCLOUD_SERVER_INSTANCE_URL",),
          "instance webfinger names to an authenticated account; empty = OCIS_URL"),
    Field("webfinger_instances", "webfinger.instances", "tables", [], ("WEBFINGER_INSTANCES",),
          "rules picking an account's instance(s): [[webfinger.instances]] claim, regex, href "
          "(may use {{.claim}}), title (table lang = text), break; the env var takes a JSON array"),
    # --- idp: the embedded OpenID Connect provider ------------------------------------------------
    Field("idp_access_token_expiration", "idp.access_token_expiration", "int", 300,
          ("IDP_ACCESS_TOKEN_EXPIRATION",), "seconds an access token issued by the embedded IdP is valid"),
    Field("idp_id_token_expiration", "idp.id_token_expiration", "int", 300,
          ("IDP_ID_TOKEN_EXPIRATION",), "seconds an id token issued by the embedded IdP is valid"),
    Field("idp_refresh_token_expiration", "idp.refresh_token_expiration", "int", 2592000,
          ("IDP_REFRESH_TOKEN_EXPIRATION",),
          "seconds a refresh token is valid (each use rotates it; a reused one revokes its family)"),
    Field("idp_signing_method", "idp.signing_method", "str", "RS256", ("IDP_SIGNING_METHOD",),
          "JWS algorithm of issued tokens: RS256 | PS256 (keys: <base_data_path>/idp/private-key.pem)"),
    Field("idp_key_rotation_interval", "idp.key_rotation_interval", "float", 0.0,
          ("IDP_KEY_ROTATION_INTERVAL",),
          "seconds after which the IdP replaces its signing key (0 = never); the old key keeps "
          "verifying until the tokens it signed have expired"),
    Field("idp_device_poll_interval", "idp.device_poll_interval", "int", 5,
          ("IDP_DEVICE_POLL_INTERVAL",),
          "seconds a device (`ocis login --device`) waits between polls of the token endpoint"),
    Field("idp_trusted_clients", "idp.trusted_clients", "list", ["web", "ocis-cli"],
          ("IDP_TRUSTED_CLIENTS",),
          "client ids that skip the consent page (unless they ask for prompt=consent)"),
    # --- ocdav: WebDAV ------------------------------------------------------------------------
    Field("ocdav_allow_propfind_depth_infinity", "ocdav.allow_propfind_depth_infinity", "bool",
          False, ("OCDAV_ALLOW_PROPFIND_DEPTH_INFINITY",),
          "answer PROPFIND with `Depth: infinity` (the whole subtree); off = 400, as in oCIS"),
    Field("ocdav_propfind_depth_infinity_max_entries",
          "ocdav.propfind_depth_infinity_max_entries", "int", 100000,
          ("OCDAV_PROPFIND_DEPTH_INFINITY_MAX_ENTRIES",),
          "most entries a `Depth: infinity` PROPFIND lists; a larger subtree is refused with "
          "403 `propfind-finite-depth` before anything is sent (oCIS has no such cap)"),
    # --- thumbnails: ?preview=1 on WebDAV file URLs (ocdav/preview.py) ----------------------------
    Field("disable_previews", "thumbnails.disable_previews", "bool", False,
          ("WEBDAV_DISABLE_PREVIEWS", "OCIS_DISABLE_PREVIEWS"),
          "no thumbnails: every ?preview=1 request answers 404, as in oCIS"),
    Field("thumbnails_resolutions", "thumbnails.resolutions", "list",
          ["16x16", "32x32", "64x64", "128x128", "1080x1920", "1920x1080", "2160x3840",
           "3840x2160", "4320x7680", "7680x4320"], ("THUMBNAILS_RESOLUTIONS",),
          "thumbnail sizes <width>x<height> (comma separated); a request gets the closest one "
          "at least as large, never larger than the image"),
    Field("thumbnails_max_input_width", "thumbnails.max_input_width", "int", 7680,
          ("THUMBNAILS_MAX_INPUT_WIDTH",),
          "widest image (pixels, read from its header before decoding) a thumbnail is made of; "
          "wider: 403"),
    Field("thumbnails_max_input_height", "thumbnails.max_input_height", "int", 7680,
          ("THUMBNAILS_MAX_INPUT_HEIGHT",),
          "tallest image (pixels) a thumbnail is made of; taller: 403"),
    Field("thumbnails_max_input_image_file_size", "thumbnails.max_input_image_file_size", "str",
          "50MB", ("THUMBNAILS_MAX_INPUT_IMAGE_FILE_SIZE",),
          "largest file a thumbnail is made of (KB, KiB, MB, MiB, GB, GiB); larger: 403"),
    Field("thumbnails_filesystemstorage_root", "thumbnails.filesystemstorage_root", "str", "",
          ("THUMBNAILS_FILESYSTEMSTORAGE_ROOT",),
          "folder of the made thumbnails; empty = <base_data_path>/thumbnails"),
    Field("thumbnails_cache_max_size", "thumbnails.cache_max_size", "str", "256MiB",
          ("THUMBNAILS_CACHE_MAX_SIZE",),
          "bytes the made thumbnails may take on disk; past it the least recently used go"),
    Field("thumbnails_max_concurrent_requests", "thumbnails.max_concurrent_requests", "int", 0,
          ("THUMBNAILS_MAX_CONCURRENT_REQUESTS",),
          "thumbnails being made at once (waiting or running) beyond which a request gets 429 "
          "with Retry-After (0 = no cap; two are made at a time either way)"),
    # --- sharing (user/group shares over OCS and WebDAV) -------------------------------------------
    Field("sharing_auto_accept", "frontend.auto_accept_shares", "bool", True,
          ("FRONTEND_AUTO_ACCEPT_SHARES",),
          "received user and group shares start accepted (mounted in the share jail); "
          "false: they wait as pending until the recipient accepts them"),
    # --- settings service (per-user settings) and pre-signed URLs -------------------------------
    Field("default_language", "settings.default_language", "str", "",
          ("SETTINGS_DEFAULT_LANGUAGE", "OCIS_DEFAULT_LANGUAGE"),
          "language of users who chose none (an ISO 639-1 code such as `de`); empty = none"),
    Field("presigned_urls", "proxy.enable_presignedurls", "bool", True,
          ("PROXY_ENABLE_PRESIGNEDURLS",),
          "accept pre-signed URLs (OC-Signature and friends, signed with the user's signing key)"),
    Field("presigned_url_methods", "proxy.presignedurl.allowed_http_methods", "list", ["GET"],
          ("PROXY_PRESIGNEDURL_ALLOWED_METHODS",),
          "HTTP methods a pre-signed URL may be used with"),
    Field("public_share_must_have_password", "sharing.public_share_must_have_password", "bool",
          False, ("OCIS_SHARING_PUBLIC_SHARE_MUST_HAVE_PASSWORD",),
          "every public link needs a password"),
    Field("public_writeable_share_must_have_password",
          "sharing.public_writeable_share_must_have_password", "bool", False,
          ("OCIS_SHARING_PUBLIC_WRITEABLE_SHARE_MUST_HAVE_PASSWORD",),
          "public links that can upload or edit need a password"),
    Field("federated_sharing_outgoing", "frontend.enable_federated_sharing_outgoing", "bool",
          True, ("FRONTEND_ENABLE_FEDERATED_SHARING_OUTGOING",),
          "users may share with federated users (user@domain) while OCM is on; capability "
          "files_sharing.federation.outgoing"),
    Field("federated_sharing_incoming", "frontend.enable_federated_sharing_incoming", "bool",
          True, ("FRONTEND_ENABLE_FEDERATED_SHARING_INCOMING",),
          "capability files_sharing.federation.incoming while OCM is on (shares from the "
          "providers listed in OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE)"),
    # --- ocm: federation (Open Cloud Mesh) --------------------------------------------------------
    Field("enable_ocm", "ocm.enabled", "bool", False, ("OCIS_ENABLE_OCM",),
          "run the ocm service: OCM discovery (/.well-known/ocm, /ocm-provider) and the /ocm API "
          "for the providers listed in OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE"),
    Field("ocm_domain", "ocm.domain", "str", "", ("OCM_DOMAIN",),
          "this instance's OCM domain, the part after @ of its users' federated addresses; "
          "empty = the host of OCIS_URL"),
    Field("ocm_providers_file", "ocm.providers_file", "str", "",
          ("OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE",),
          "the trusted OCM providers (oCIS ocmproviders.json format); only the domains it lists "
          "may share with us or be contacted; empty = <config_dir>/ocmproviders.json"),
    Field("ocm_invite_manager_insecure", "ocm.invite_manager_insecure", "bool", False,
          ("OCM_OCM_INVITE_MANAGER_INSECURE",),
          "invitations: allow plain http to a listed loopback URL and skip TLS certificate checks "
          "(development only)"),
    Field("ocm_invite_token_expiration", "ocm.invite_manager_token_expiration", "str", "24h",
          ("OCM_OCM_INVITE_MANAGER_TOKEN_EXPIRATION",),
          "how long an invitation token can be accepted (a duration: 24h, 30m, 1h30m, 10s)"),
    Field("ocm_require_invite", "ocm.require_invite", "bool", True, ("OCM_REQUIRE_INVITE",),
          "a federated share needs an accepted invitation between sharer and recipient, checked "
          "when sending and when receiving (oCIS always requires it); false: any user of a "
          "listed provider"),
    Field("ocm_verify_request_hostname", "ocm.provider_authorizer_verify_request_hostname",
          "bool", False, ("OCM_OCM_PROVIDER_AUTHORIZER_VERIFY_REQUEST_HOSTNAME",),
          "accept POST /ocm/invite-accepted only from an address the claimed provider's listed "
          "hosts resolve to (not behind a proxy that hides the caller's address)"),
    Field("ocm_share_provider_insecure", "ocm.share_provider_insecure", "bool", False,
          ("OCM_OCM_SHARE_PROVIDER_INSECURE",),
          "outgoing shares (POST /ocm/shares, discovery): allow plain http to a listed loopback "
          "URL and skip TLS certificate checks (development only)"),
    Field("ocm_storage_provider_insecure", "ocm.storage_provider_insecure", "bool", False,
          ("OCM_OCM_STORAGE_PROVIDER_INSECURE",),
          "access to remote shares (WebDAV): allow plain http to a listed loopback URL and skip "
          "TLS certificate checks (development only)"),
    Field("ocm_expose_recipient_display_name", "ocm.expose_recipient_display_name", "bool", False,
          ("OCM_OCMD_EXPOSE_RECIPIENT_DISPLAY_NAME",),
          "answer a received share with the recipient's display name (recipientDisplayName)"),
    Field("ocm_connect_timeout", "ocm.connect_timeout", "float", 5.0, ("OCM_CLIENT_CONNECT_TIMEOUT",),
          "seconds an outgoing OCM request may take to connect to a peer"),
    Field("ocm_timeout", "ocm.timeout", "float", 15.0, ("OCM_CLIENT_TIMEOUT",),
          "seconds an outgoing OCM request (connect, send, whole answer) may take in total"),
    Field("ocm_max_response_size", "ocm.max_response_size", "int", 1024 * 1024,
          ("OCM_CLIENT_MAX_RESPONSE_SIZE",),
          "bytes of a peer's answer to an OCM API call we read at most; a longer one is refused"),
    # --- sse: change notifications to clients (Server-Sent Events) ----------------------------
    Field("sse_keepalive_interval", "sse.keepalive_interval", "float", 30.0,
          ("SSE_KEEPALIVE_INTERVAL",),
          "seconds between keep-alive comments on an idle event stream, so proxies keep it open"),
    Field("sse_max_streams_per_user", "sse.max_streams_per_user", "int", 16,
          ("SSE_MAX_STREAMS_PER_USER",),
          "event streams one user may hold open at once; one more answers 429"),
    Field("sse_buffer_size", "sse.buffer_size", "int", 256, ("SSE_BUFFER_SIZE",),
          "events waiting for one stream at most; a client that reads slower is disconnected "
          "(it reconnects with Last-Event-ID)"),
    Field("sse_replay_window", "sse.replay_window", "float", 300.0, ("SSE_REPLAY_WINDOW",),
          "seconds a user's events are kept for a reconnect with Last-Event-ID"),
    Field("sse_replay_size", "sse.replay_size", "int", 1000, ("SSE_REPLAY_SIZE",),
          "events kept per user for a reconnect with Last-Event-ID at most"),
    # --- event bus (docs/events.md): in-process, or NATS JetStream across nodes -----------------
    Field("events_endpoint", "events.endpoint", "str", "", ("OCIS_EVENTS_ENDPOINT",),
          "host:port of NATS JetStream for the event bus (stream main-queue); empty = in-process"),
    Field("events_cluster", "events.cluster", "str", "ocis-cluster", ("OCIS_EVENTS_CLUSTER",),
          "name this node's NATS connection gives itself (oCIS: the NATS cluster id)"),
    Field("events_ack_wait", "events.ack_wait", "float", 30.0, ("OCIS_EVENTS_ACK_WAIT",),
          "seconds a NATS event may stay unacknowledged before the group gets it again"),
    Field("events_outbox_size", "events.outbox_size", "int", 10000, ("OCIS_EVENTS_OUTBOX_SIZE",),
          "events held in memory while NATS is away; beyond, the oldest are dropped"),
    Field("registry", "registry.type", "str", "memory", ("MICRO_REGISTRY",),
          "service registry: memory (this node only) | nats-js-kv (every node, in NATS)"),
    Field("registry_address", "registry.address", "str", "", ("MICRO_REGISTRY_ADDRESS",),
          "host:port of NATS for MICRO_REGISTRY=nats-js-kv"),
    Field("register_ttl", "registry.ttl", "float", 30.0, ("EXPERIMENTAL_REGISTER_TTL",),
          "seconds a registry entry lives without being renewed (plain seconds here)"),
    Field("register_interval", "registry.interval", "float", 25.0,
          ("EXPERIMENTAL_REGISTER_INTERVAL",), "seconds between renewals of this node's entries"),
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
    Field("max_restart_backoff", "runtime.max_restart_backoff", "float", 30.0,
          ("OCIS_RUNTIME_MAX_RESTART_BACKOFF",),
          "most seconds between two restarts of a crashed service, or two checks of a degraded "
          "one (one whose disk, LDAP server or database is away: it is retried forever)"),
    Field("max_failures", "runtime.max_failures", "int", 5, ("OCIS_RUNTIME_MAX_FAILURES",),
          "consecutive failures of one service, because of a bug, after which the runtime gives "
          "up; failures of what a service depends on (disk, LDAP) never make it give up"),
    Field("health_interval", "runtime.health_interval", "float", 10.0,
          ("OCIS_RUNTIME_HEALTH_INTERVAL",),
          "seconds between background health checks of storage and user store"),
    Field("event_loop", "runtime.event_loop", "str", "uvloop", ("OCIS_EVENT_LOOP",),
          "asyncio event loop of the server: uvloop (faster; falls back to asyncio when the "
          "package is missing) | asyncio"),
    Field("workers", "runtime.workers", "int", 0, ("OCIS_WORKERS",),
          "front processes `ocis server` runs on the one public port (SO_REUSEPORT) over the "
          "same data folder: 0 = one per CPU core (the default), 1 = one process "
          "(docs/scaling.md, Workers)"),
    Field("workers_debug", "runtime.workers_debug", "bool", False, ("OCIS_WORKERS_DEBUG",),
          "with several workers, every answer names the worker that served it "
          "(X-Ocis-Worker: its index); for tests and diagnosis"),
    # --- debug listeners (off by default so two instances never collide) ----------------------
    _debug("proxy", "PROXY"),
    _debug("ocdav", "OCDAV"),
    _debug("frontend", "FRONTEND"),
    _debug("graph", "GRAPH"),
    _debug("storage-users", "STORAGE_USERS"),
    _debug("users", "USERS"),
    _debug("idm", "IDM"),
    _debug("idp", "IDP"),
    _debug("ocm", "OCM"),
    _debug("sse", "SSE"),
)


def by_attr() -> dict[str, Field]:
    return {f.attr: f for f in FIELDS}


def by_key() -> dict[str, Field]:
    return {f.key: f for f in FIELDS}
