"""`cloud/capabilities` and `config`: what this server tells clients about itself.

Key names and spellings follow reva `pkg/owncloud/ocs/capabilities.go`. `files.tus_support`
makes owncloudcmd upload everything over TUS; `dav.chunking` >= 1.0 moves its DAV traffic to
/remote.php/dav/files/<id>/ and big files (without TUS) to chunking NG (client-notes.md §1-§3,
docs/decisions/0002-uploads.md). Sharing keeps its structure with `api_enabled` false.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server import LEGACY_VERSION, PRODUCT_VERSION
from ocis_server.domain.previews import SUPPORTED_MIME_TYPES

from . import ocs
from .config import CONFIG_KEY, FrontendConfig

EDITION = "Community"
TUS_MAX_CHUNK_SIZE = 0
PRODUCT = "Infinite Scale"


def legacy_version_string() -> str:
    """"10.11.0.0" -> "10.11.0" (status.php `versionstring`)."""
    return ".".join(LEGACY_VERSION.split(".")[:3])


def status(cfg: FrontendConfig) -> dict[str, Any]:
    """The status.php fields, repeated under `core.status`; clients compare `version` >= 10.0.0."""
    return {
        "installed": True,
        "maintenance": False,
        "needsDbUpgrade": False,
        "version": LEGACY_VERSION,
        "versionstring": legacy_version_string(),
        "edition": EDITION,
        "productname": PRODUCT,
        "product": PRODUCT,
        "productversion": PRODUCT_VERSION,
        "hostname": cfg.hostname,
    }


def version() -> dict[str, Any]:
    major, minor, micro = (int(part) for part in LEGACY_VERSION.split(".")[:3])
    return {
        "major": major,
        "minor": minor,
        "micro": micro,
        "string": legacy_version_string(),
        "edition": EDITION,
        "product": PRODUCT,
        "productversion": PRODUCT_VERSION,
    }


def _files_sharing(cfg: FrontendConfig) -> dict[str, Any]:
    # User and group shares and public links (sharing.py); federated shares while OCM is on.
    return {
        "api_enabled": True,
        "group_sharing": True,
        "sharing_roles": True,
        "deny_access": False,
        "auto_accept_share": cfg.auto_accept_shares,
        "share_with_group_members_only": True,
        "share_with_membership_groups_only": True,
        "search_min_length": 3,
        "default_permissions": 22,
        "user_enumeration": {"enabled": True, "group_members_only": True},
        "federation": {"outgoing": cfg.federation_outgoing,
                       "incoming": cfg.federation_incoming},
        "public": _public_links(cfg),
        "user": {"send_mail": False, "profile_picture": False, "settings": [],
                 "expire_date": {"enabled": False}},
        "resharing": False,
    }


def _public_links(cfg: FrontendConfig) -> dict[str, Any]:
    """files_sharing.public: links are served (frontend/publicshares.py, ocdav/publicfiles.py)."""
    every, writeable = cfg.public_password_enforced, cfg.public_writeable_password_enforced
    return {
        "enabled": True, "send_mail": False, "social_share": False, "upload": True,
        "multiple": True, "supports_upload_only": True,
        "password": {"enforced": every, "enforced_for": {
            "read_only": every, "read_write": every or writeable,
            "read_write_delete": every or writeable, "upload_only": every or writeable}},
        "expire_date": {"enabled": False}, "can_edit": True, "alias": True,
        "default_permissions": 1,
    }


def capabilities(cfg: FrontendConfig) -> dict[str, Any]:
    found = _capabilities(cfg)
    if cfg.notifications:     # the userlog service answers the in-app notifications list
        found["notifications"] = {"ocs-endpoints": ["list", "delete"]}
    return found


def _capabilities(cfg: FrontendConfig) -> dict[str, Any]:
    return {
        "core": {
            "pollinterval": cfg.poll_interval,
            "webdav-root": "remote.php/webdav",
            "status": status(cfg),
            "support-url-signing": cfg.support_url_signing,
            "support-sse": cfg.support_sse,
        },
        "checksums": {
            "supportedTypes": list(cfg.checksum_types),
            "preferredUploadType": cfg.preferred_checksum,
        },
        "files": {
            "privateLinks": True,
            "bigfilechunking": True,
            # max_chunk_size 0 = no limit: owncloudcmd 2.11 then sends each file in one request
            # (its multi-chunk size computation is broken, see docs/decisions/0002-uploads.md).
            "tus_support": {
                "version": "1.0.0",
                "resumable": "1.0.0",
                "extension": "creation,creation-with-upload",
                "max_chunk_size": TUS_MAX_CHUNK_SIZE,
                "http_method_override": "",
            },
            # Trash bin (ocdav trashbin.py) and versions (ocdav versions.py) are served.
            "undelete": True,
            "versioning": True,
            "favorites": True,
            "full_text_search": False,
            "tags": False,
            "blacklisted_files": list(cfg.blacklisted_files),
            "archivers": [],
            "app_providers": [],
            # Not in oCIS (owncloud/ocis#7405 asks for it): whether `?preview=1` answers, and for
            # which types, so a client need not ask for every file (ocdav preview.py).
            "thumbnail": {"enabled": cfg.previews, "version": "1.0.0",
                          "supportedMimeTypes": list(SUPPORTED_MIME_TYPES) if cfg.previews else []},
        },
        "dav": {"reports": [], "chunking": "1.0"},
        "files_sharing": _files_sharing(cfg),
        "spaces": {
            "version": "1.0.0",
            "enabled": True,
            "projects": True,
            "share_jail": True,
            "max_quota": cfg.max_quota,
        },
        "graph": {
            "personal-data-export": False,
            "users": {
                "read_only_attributes": [],
                "create_disabled": True,
                "delete_disabled": True,
                "change_password_self_disabled": True,
            },
            "tags": {"max_tag_length": 100},
        },
        "password_policy": {
            "min_characters": 0,
            "max_characters": 72,
            "min_lowercase_characters": 0,
            "min_uppercase_characters": 0,
            "min_digits": 0,
            "min_special_characters": 0,
        },
    }


def config_data(cfg: FrontendConfig) -> dict[str, Any]:
    """`GET /ocs/v[12].php/config` (reva `handlers/config`): the legacy server description."""
    return {
        "version": "1.7",
        "website": "ownCloud",
        "host": cfg.host,
        "contact": "",
        "ssl": "true" if cfg.ssl else "false",
    }


async def get_capabilities(request: web.Request) -> web.Response:
    """Unauthenticated on purpose: owncloudcmd's first and only bootstrap request."""
    cfg = request.app[CONFIG_KEY]
    return ocs.respond(request, {"capabilities": capabilities(cfg), "version": version()})


async def get_config(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG_KEY]
    return ocs.respond(request, config_data(cfg))
