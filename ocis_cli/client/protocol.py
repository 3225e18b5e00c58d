"""The sharing protocol's fixed values as clients see them: the unified roles (fixed ids, CLI
names, OCS permission bits, the kinds of item they fit), the public-link types and their bits,
OCS share types and received-share states. The SDK, the CLI and the TUI read them here; the SDK
may not import the server, so tests/test_protocol_constants.py checks that this table and the
server's (`ocis_server/domain/roles.py`) agree.
"""

from __future__ import annotations

from dataclasses import dataclass

# OCS permission bits (reva conversions/permissions.go).
READ, UPDATE, CREATE, DELETE, SHARE = 1, 2, 4, 8, 16
ALL = READ | UPDATE | CREATE | DELETE | SHARE
DENIED_BITS = 64
# OCS share types and received-share states (reva conversions).
USER, GROUP, LINK, FEDERATED, SPACE_USER, SPACE_GROUP = 0, 1, 3, 6, 7, 8
STATES = {0: "accepted", 1: "pending", 2: "declined"}
# The storage id under which a server lists remote spaces (federated shares received over OCM).
OCM_STORAGE_ID = "89f37a33-858b-45fa-8890-a1f2b27d90e1"
# The kinds of item a role fits: a space root, a folder, a file.
ROOT, FOLDER, FILE = "root", "folder", "file"


@dataclass(frozen=True, slots=True)
class RoleInfo:
    id: str                    # fixed UUID (oCIS unifiedrole/roles.go)
    cli_name: str              # `ocis share --role`, `ocis spaces add-member --role`
    bits: int                  # the OCS permissions it grants
    kinds: tuple[str, ...]
    enabled: bool              # offered by default (oCIS UNIFIED_ROLES_AVAILABLE_ROLES)

    @property
    def is_space_role(self) -> bool:
        return ROOT in self.kinds


_RW = READ | UPDATE | CREATE | DELETE
ROLES: tuple[RoleInfo, ...] = (
    RoleInfo("b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5", "viewer", READ, (FOLDER, FILE), True),
    RoleInfo("d5041006-ebb3-4b4a-b6a4-7c180ecfb17d", "viewer-list-grants", READ,
             (FOLDER, FILE), False),
    RoleInfo("a8d5fe5e-96e3-418d-825b-534dbdf22b99", "space-viewer", READ, (ROOT,), True),
    RoleInfo("fb6c3e19-e378-47e5-b277-9732f9de6e21", "editor", _RW, (FOLDER,), True),
    RoleInfo("e8ea8b21-abd4-45d2-b893-8d1546378e9e", "editor-list-grants", _RW, (FOLDER,), False),
    RoleInfo("0911d62b-1e3f-4778-8b1b-903b7e4e8476", "editor-list-grants-with-versions", _RW,
             (FOLDER,), False),
    RoleInfo("58c63c02-1d89-4572-916a-870abc5a1b7d", "space-editor", _RW, (ROOT,), True),
    RoleInfo("3284f2d5-0070-4ad8-ac40-c247f7c1fb27", "space-editor-without-versions", _RW,
             (ROOT,), False),
    RoleInfo("8f4701d9-c68f-4109-a482-88e22ee32805", "space-editor-without-trashbin", _RW,
             (ROOT,), False),
    RoleInfo("2d00ce52-1fc2-4dbc-8b95-a73b73395f5a", "file-editor", READ | UPDATE, (FILE,), True),
    RoleInfo("c1235aea-d106-42db-8458-7d5610fb0a67", "file-editor-list-grants", READ | UPDATE,
             (FILE,), False),
    RoleInfo("b173329d-cf2e-42f0-a595-ee410645d840", "file-editor-list-grants-with-versions",
             READ | UPDATE, (FILE,), False),
    RoleInfo("1c996275-f1c9-4e71-abdf-a42f6495e960", "uploader", CREATE, (FOLDER,), True),
    RoleInfo("312c0871-5ef7-4b3a-85b6-0e4074c64049", "manager", ALL, (ROOT,), True),
    RoleInfo("aa97fe03-7980-45ac-9e50-b325749fd7e6", "secure-viewer", READ, (FOLDER, FILE), False),
    RoleInfo("63e64e19-8d43-42ec-a738-2b6af2610efa", "denied", DENIED_BITS, (FOLDER,), False),
)
ROLE_BY_ID = {role.id: role for role in ROLES}
ROLE_BY_NAME = {role.cli_name: role for role in ROLES}
ITEM_ROLES = tuple(r.cli_name for r in ROLES if not r.is_space_role)
COMMON_ITEM_ROLES = tuple(r.cli_name for r in ROLES if not r.is_space_role and r.enabled)
SPACE_ROLES = tuple(r.cli_name for r in ROLES if r.is_space_role and r.enabled)
# v1.0 drives name a member's role as the storage keeps it.
SPACE_ROLE_OF_MEMBER = {"viewer": "space-viewer", "editor": "space-editor", "manager": "manager"}
# The role a share's bits stand for, per kind (reva RoleFromOCSPermissions).
_ROLE_OF_BITS = {
    ROOT: {READ: "space-viewer", _RW: "space-editor", ALL: "manager"},
    FOLDER: {READ: "viewer", _RW: "editor", CREATE: "uploader", DENIED_BITS: "denied"},
    FILE: {READ: "viewer", READ | UPDATE: "file-editor"},
}


def role_for_bits(bits: int, kind: str) -> str | None:
    """The CLI name of the unified role these OCS bits stand for on an item of `kind`."""
    return _ROLE_OF_BITS.get(kind, {}).get(bits)


# Public-link types (`ocis link create --type`) and their OCS bits (oCIS linktype.go; reva
# `ocPublicPermToRole`): an edit link on a file is read + update; upload and file-drop add to a
# folder; an internal link grants nothing beyond what its users already have.
LINK_BITS = {"view": READ, "upload": READ | CREATE, "edit": _RW, "file-drop": CREATE,
             "internal": 0}
LINK_TYPES = tuple(LINK_BITS)
LINK_FOLDER_ONLY = ("upload", "file-drop")
LINK_FILE_EDIT_BITS = READ | UPDATE


def link_bits(link_type: str, *, is_folder: bool) -> int:
    """The OCS bits of a link type on a folder or a file; ValueError for a type that does not
    exist or does not fit the item."""
    if link_type not in LINK_BITS:
        raise ValueError(f"unknown link type {link_type!r}: one of {', '.join(LINK_TYPES)}")
    if link_type in LINK_FOLDER_ONLY and not is_folder:
        raise ValueError(f"a {link_type} link needs a folder")
    if link_type == "edit" and not is_folder:
        return LINK_FILE_EDIT_BITS
    return LINK_BITS[link_type]


def link_type_for_bits(bits: int) -> str | None:
    """The link type a link's OCS bits stand for (edit on a file or a folder)."""
    if bits == LINK_FILE_EDIT_BITS:
        return "edit"
    return next((name for name, value in LINK_BITS.items() if value == bits), None)
