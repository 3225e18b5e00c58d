"""The service table: every service the runtime can run, declared once as data.

The supervisor, the proxy's routing, `ocis list` and the docs all read `SERVICES`. A service's
package holds `config.py`, `app.py` (`create_app(ctx, mount) -> web.Application`) and `errors.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    description: str
    group: int                          # start group: lower groups start (and become ready) first
    app: str | None = None              # "module:function" creating an aiohttp app, imported lazily
    mounts: tuple[str, ...] = ()        # proxy prefixes routed to this service, in match order
    unprotected: tuple[str, ...] = ()   # path prefixes reachable without authentication
    error_format: str = "dav"           # dav | ocs | graph | json: how the proxy renders a 401
    depends: tuple[str, ...] = field(default=())
    default: bool = True                # started by `ocis server` unless excluded
    own_auth: bool = False              # its unprotected paths read Authorization themselves (OAuth
                                        # client credentials at the IdP): the proxy leaves it alone


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("storage-users", "storage provider for personal and project spaces (SQLite + blobs)",
                group=1),
    ServiceSpec("users", "builtin user store", group=1),
    ServiceSpec("ocdav", "ownCloud WebDAV: /webdav, /dav, /remote.php, status.php", group=3,
                app="ocis_server.services.ocdav.app:create_app",
                mounts=("/remote.php", "/webdav", "/dav", "/status.php", "/status", "/data"),
                unprotected=("/status.php", "/status", "/data", "/dav/public-files",
                             "/remote.php/dav/public-files"),
                depends=("storage-users", "users")),
    ServiceSpec("frontend", "OCS API: capabilities, cloud/user, config", group=4, error_format="ocs",
                app="ocis_server.services.frontend.app:create_app",
                mounts=("/ocs",),
                unprotected=("/ocs/v1.php/cloud/capabilities", "/ocs/v2.php/cloud/capabilities",
                             "/ocs/v1.php/config", "/ocs/v2.php/config",
                             "/ocs/v1.php/apps/files_sharing/api/v1/tokeninfo",
                             "/ocs/v2.php/apps/files_sharing/api/v1/tokeninfo"),
                depends=("storage-users", "users")),
    ServiceSpec("graph", "LibreGraph API: me, drives", group=3, error_format="graph",
                app="ocis_server.services.graph.app:create_app",
                mounts=("/graph",),
                depends=("storage-users", "users")),
    ServiceSpec("auth-app", "app tokens for clients without OpenID Connect: /auth-app/tokens",
                group=4, error_format="json", app="ocis_server.services.authapp.app:create_app",
                mounts=("/auth-app",), depends=("users",)),
    ServiceSpec("webfinger", "RFC 7033 lookup: an account's OpenID Connect issuer and instance",
                group=4, error_format="json", app="ocis_server.services.webfinger.app:create_app",
                mounts=("/.well-known/webfinger",), unprotected=("/.well-known/webfinger",),
                depends=("users",)),
    ServiceSpec("idp", "embedded OpenID Connect provider: /konnect, /signin, discovery", group=3,
                error_format="json", app="ocis_server.services.idp.app:create_app",
                mounts=("/konnect", "/signin", "/.well-known/openid-configuration"),
                unprotected=("/konnect", "/signin", "/.well-known/openid-configuration"),
                depends=("users",), own_auth=True),
    ServiceSpec("publiclinks", "public link landing pages /s/<token>, /f/<fileid> after login",
                group=4, error_format="json", app="ocis_server.services.publiclinks.app:create_app",
                mounts=("/s", "/f"), unprotected=("/s",), depends=("storage-users", "users")),
    ServiceSpec("idm", "embedded LDAP server: read-only view of users and groups (LDAPS, StartTLS)",
                group=2, depends=("users",)),
    ServiceSpec("proxy", "the public HTTP entry point: authentication and routing", group=5,
                depends=("ocdav", "frontend", "graph")),
)


def by_name() -> dict[str, ServiceSpec]:
    return {spec.name: spec for spec in SERVICES}
