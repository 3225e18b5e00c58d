"""The unified sharing roles (fixed ids, legacy/CS3 names, conditions, actions) and their conversions
to the OCS permission bitmask and WebDAV permission letters (protocol-notes.md §3, §4, §7; oCIS
`services/graph/pkg/unifiedrole/roles.go`, reva `pkg/conversions/{role,permissions}.go`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .errors import BadRequest

# OCS permission bits (reva conversions/permissions.go).
READ, UPDATE, CREATE, DELETE, SHARE = 1, 2, 4, 8, 16
ALL = READ | UPDATE | CREATE | DELETE | SHARE   # 31
DENIED_BITS = 64                                 # "none": an explicit deny

# Resource kinds a role's condition names.
ROOT, FOLDER, FILE = "root", "folder", "file"
KINDS = (ROOT, FOLDER, FILE)
_CONDITION = {ROOT: "exists @Resource.Root", FOLDER: "exists @Resource.Folder",
              FILE: "exists @Resource.File"}
_FEDERATED = '@Subject.UserType=="Federated"'

_A = "libre.graph/driveItem/"
_READ_ACTIONS = (_A + "path/read", _A + "quota/read", _A + "content/read", _A + "children/read",
                 _A + "deleted/read", _A + "basic/read")
_WRITE_ACTIONS = (_A + "children/create", _A + "standard/delete", _A + "path/update",
                  _A + "deleted/update", _A + "upload/create")


@dataclass(frozen=True, slots=True)
class Role:
    id: str                     # fixed UUID: the contract with every client
    name: str                   # CS3 / legacy name (OCS `role=`)
    cli_name: str               # `ocis share --role <cli_name>`
    display_name: str
    kinds: frozenset[str]       # resource kinds the role applies to
    federated: bool             # may also be granted to federated users
    bits: int                   # OCS permission bitmask (resharing already stripped)
    actions: tuple[str, ...]    # libre.graph allowed actions
    enabled: bool = True        # offered by default (oCIS UNIFIED_ROLES_AVAILABLE_ROLES)

    @property
    def conditions(self) -> tuple[str, ...]:
        """The SDDL-like conditions as Graph lists them, one per kind (plus federated)."""
        out = [_CONDITION[kind] for kind in KINDS if kind in self.kinds]
        if self.federated:
            out += [f"{_CONDITION[kind]} && {_FEDERATED}" for kind in KINDS if kind in self.kinds]
        return tuple(out)

    def applies_to(self, kind: str) -> bool:
        return kind in self.kinds

    @property
    def is_space_role(self) -> bool:
        return ROOT in self.kinds


def _role(rid: str, name: str, cli: str, display: str, kinds: tuple[str, ...], bits: int,
          actions: tuple[str, ...], *, federated: bool = False, enabled: bool = True) -> Role:
    return Role(rid, name, cli, display, frozenset(kinds), federated, bits, actions, enabled)


_GRANTS_READ = (_A + "permissions/read",)
_VERSIONS = (_A + "versions/read", _A + "versions/update")
_MANAGE = (_A + "permissions/create", _A + "permissions/update", _A + "permissions/delete",
           _A + "permissions/deny", _A + "deleted/delete")

VIEWER = _role("b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5", "viewer", "viewer", "Can view",
               (FILE, FOLDER), READ, _READ_ACTIONS, federated=True)
VIEWER_LIST_GRANTS = _role("d5041006-ebb3-4b4a-b6a4-7c180ecfb17d", "viewer-list-grants",
                           "viewer-list-grants", "Can view", (FILE, FOLDER), READ,
                           _READ_ACTIONS + _GRANTS_READ, enabled=False)
SPACE_VIEWER = _role("a8d5fe5e-96e3-418d-825b-534dbdf22b99", "spaceviewer", "space-viewer",
                     "Can view", (ROOT,), READ, _READ_ACTIONS + _GRANTS_READ)
EDITOR = _role("fb6c3e19-e378-47e5-b277-9732f9de6e21", "editor", "editor", "Can edit",
               (FOLDER,), READ | UPDATE | CREATE | DELETE, _READ_ACTIONS + _WRITE_ACTIONS,
               federated=True)
EDITOR_LIST_GRANTS = _role("e8ea8b21-abd4-45d2-b893-8d1546378e9e", "editor-list-grants",
                           "editor-list-grants", "Can edit", (FOLDER,), 15,
                           _READ_ACTIONS + _WRITE_ACTIONS + _GRANTS_READ, enabled=False)
EDITOR_LIST_GRANTS_VERSIONS = _role(
    "0911d62b-1e3f-4778-8b1b-903b7e4e8476", "editor-list-grants-with-versions",
    "editor-list-grants-with-versions", "Can edit", (FOLDER,), 15,
    _READ_ACTIONS + _WRITE_ACTIONS + _GRANTS_READ + _VERSIONS, enabled=False)
SPACE_EDITOR = _role("58c63c02-1d89-4572-916a-870abc5a1b7d", "spaceeditor", "space-editor",
                     "Can edit with trashbin and versions", (ROOT,), 15,
                     _READ_ACTIONS + _WRITE_ACTIONS + _GRANTS_READ + _VERSIONS)
SPACE_EDITOR_NO_VERSIONS = _role(
    "3284f2d5-0070-4ad8-ac40-c247f7c1fb27", "spaceeditor-without-versions",
    "space-editor-without-versions", "Can edit without versions", (ROOT,), 15,
    _READ_ACTIONS + _WRITE_ACTIONS + _GRANTS_READ, enabled=False)
SPACE_EDITOR_NO_TRASH = _role(
    "8f4701d9-c68f-4109-a482-88e22ee32805", "spaceeditor-without-trashbin",
    "space-editor-without-trashbin", "Can edit", (ROOT,), 15,
    _READ_ACTIONS + _WRITE_ACTIONS + _GRANTS_READ + _VERSIONS, enabled=False)
FILE_EDITOR = _role("2d00ce52-1fc2-4dbc-8b95-a73b73395f5a", "file-editor", "file-editor",
                    "Can edit", (FILE,), READ | UPDATE,
                    _READ_ACTIONS + (_A + "upload/create", _A + "deleted/update"), federated=True)
FILE_EDITOR_LIST_GRANTS = _role("c1235aea-d106-42db-8458-7d5610fb0a67", "file-editor-list-grants",
                                "file-editor-list-grants", "Can edit", (FILE,), 3,
                                _READ_ACTIONS + (_A + "upload/create",) + _GRANTS_READ,
                                enabled=False)
FILE_EDITOR_LIST_GRANTS_VERSIONS = _role(
    "b173329d-cf2e-42f0-a595-ee410645d840", "file-editor-list-grants-with-versions",
    "file-editor-list-grants-with-versions", "Can edit", (FILE,), 3,
    _READ_ACTIONS + (_A + "upload/create",) + _GRANTS_READ + _VERSIONS, enabled=False)
UPLOADER = _role("1c996275-f1c9-4e71-abdf-a42f6495e960", "editor-lite", "uploader", "Can upload",
                 (FOLDER,), CREATE, (_A + "path/read", _A + "children/create",
                                     _A + "upload/create"))
MANAGER = _role("312c0871-5ef7-4b3a-85b6-0e4074c64049", "manager", "manager", "Can manage",
                (ROOT,), ALL,
                _READ_ACTIONS + _WRITE_ACTIONS + _GRANTS_READ + _VERSIONS + _MANAGE)
SECURE_VIEWER = _role("aa97fe03-7980-45ac-9e50-b325749fd7e6", "secure-viewer", "secure-viewer",
                      "Can view (secure)", (FILE, FOLDER), READ,
                      (_A + "path/read", _A + "children/read", _A + "basic/read"), enabled=False)
DENIED = _role("63e64e19-8d43-42ec-a738-2b6af2610efa", "denied", "denied", "Cannot access",
               (FOLDER,), DENIED_BITS, (), enabled=False)

ROLES: tuple[Role, ...] = (
    VIEWER, VIEWER_LIST_GRANTS, SPACE_VIEWER, EDITOR, EDITOR_LIST_GRANTS,
    EDITOR_LIST_GRANTS_VERSIONS, SPACE_EDITOR, SPACE_EDITOR_NO_VERSIONS, SPACE_EDITOR_NO_TRASH,
    FILE_EDITOR, FILE_EDITOR_LIST_GRANTS, FILE_EDITOR_LIST_GRANTS_VERSIONS, UPLOADER, MANAGER,
    SECURE_VIEWER, DENIED,
)
_BY_ID = {role.id: role for role in ROLES}
_BY_NAME: dict[str, Role] = {}
for _r in ROLES:
    _BY_NAME.setdefault(_r.name, _r)
    _BY_NAME.setdefault(_r.cli_name, _r)
# Legacy aliases OCS clients send (reva: "uploader" is editor-lite; v1 space role names).
_BY_NAME.update({"uploader": UPLOADER, "space-manager": MANAGER, "coowner": MANAGER})

# Space membership roles the storage keeps in `members` (authz ROLE_*) -> unified role.
SPACE_ROLE_OF_MEMBER = {"viewer": SPACE_VIEWER, "editor": SPACE_EDITOR, "manager": MANAGER}


def by_id(role_id: str) -> Role:
    try:
        return _BY_ID[role_id]
    except KeyError:
        raise BadRequest(f"unknown role {role_id!r}") from None


def by_name(name: str) -> Role:
    """A role by id, CS3/legacy name or CLI name (case-insensitive)."""
    key = name.strip()
    role = _BY_ID.get(key) or _BY_NAME.get(key.lower())
    if role is None:
        raise BadRequest(f"unknown role {name!r}")
    return role


def kind_of(*, is_dir: bool, is_root: bool) -> str:
    if is_root:
        return ROOT
    return FOLDER if is_dir else FILE


def available_for(kind: str, *, include_disabled: bool = False) -> list[Role]:
    """The roles that may be granted on a resource of this kind (Graph `allowedValues`)."""
    return [r for r in ROLES if r.applies_to(kind) and (r.enabled or include_disabled)]


def share_bits(bits: int, kind: str) -> int:
    """A requested OCS bitmask as the server stores it for a user/group share: resharing is not
    supported (31->15, 17->1, ...), and a single file never gets create or delete (reva
    shares.go). Out-of-range values are rejected (reva: 400 "permissions out of range")."""
    if bits == DENIED_BITS:
        return bits
    if not 0 < bits <= ALL:
        raise BadRequest("permissions out of range")
    bits &= ~SHARE
    if kind == FILE:
        bits &= ~(CREATE | DELETE)
    if not bits:
        raise BadRequest("permissions out of range")
    return bits


def role_for_bits(bits: int, kind: str) -> Role | None:
    """The unified role matching a (stripped) bitmask on a resource kind (reva
    `RoleFromOCSPermissions`), or None for a custom combination."""
    if kind == ROOT:
        return {READ: SPACE_VIEWER, 15: SPACE_EDITOR, ALL: MANAGER}.get(bits)
    if bits == READ:
        return VIEWER
    if bits == DENIED_BITS:
        return DENIED if kind == FOLDER else None
    if kind == FILE:
        return FILE_EDITOR if bits == READ | UPDATE else None
    if bits == 15:
        return EDITOR
    if bits == CREATE:
        return UPLOADER
    return None


KNOWN_ACTIONS = frozenset(action for role in ROLES for action in role.actions)


def bits_for_actions(actions: list[str] | tuple[str, ...], kind: str) -> int:
    """The OCS bits a list of `libre.graph/driveItem/...` actions grants (oCIS
    `PermissionsToCS3ResourcePermissions`): read, create children, upload (a file's content is
    an update), rename, delete, share. BadRequest for an unknown action or one granting nothing."""
    bits = 0
    for action in actions:
        if action not in KNOWN_ACTIONS:
            raise BadRequest(f"unknown action {action!r}")
        if action.endswith("/read"):
            bits |= READ
        elif action.endswith("children/create"):
            bits |= CREATE
        elif action.endswith("upload/create"):
            bits |= UPDATE if kind == FILE else CREATE
        elif action.endswith("path/update"):
            bits |= UPDATE
        elif action.endswith("standard/delete"):
            bits |= DELETE
        elif action.endswith("permissions/create"):
            bits |= SHARE
    if not bits:
        raise BadRequest("the actions grant no permission")
    return bits


def role_for_actions(actions: list[str] | tuple[str, ...], kind: str) -> Role | None:
    """The offered role whose actions are exactly these, if any."""
    wanted = frozenset(actions)
    return next((r for r in available_for(kind) if frozenset(r.actions) == wanted), None)


def require_applicable(role: Role, kind: str) -> None:
    """oCIS answers 400 "role not applicable to this resource" (shareInvitations.feature)."""
    if not role.applies_to(kind):
        raise BadRequest("role not applicable to this resource")


@lru_cache(maxsize=512)   # pure, and every PROPFIND renders it: a few dozen distinct inputs
def webdav_permissions(bits: int, *, is_dir: bool, shared: bool = False,
                       mounted: bool = False, public: bool = False, manage: bool = False) -> str:
    """`oc:permissions` letters (reva `Role.WebDAVPermissions`): S shared with me, R may share,
    M mount point, D delete, NV rename/move, W write (files), CK create (folders); with `manage`
    (the space's owner or Manager: CS3 DenyGrant and PurgeRecycle) Z may deny, P may purge the
    trash. Owner folder `RDNVCKZP`, owner file `RDNVWZP`."""
    if bits == DENIED_BITS:
        return ""
    out = []
    if shared and not public:
        out.append("S")
    if bits & SHARE:
        out.append("R")
    if mounted and not public:
        out.append("M")
    if bits & DELETE:
        out.append("D")
    if bits & UPDATE:
        out.append("NV")
        if not is_dir:
            out.append("W")
    if is_dir and bits & CREATE:
        out.append("CK")
    if manage and not public:
        out.append("ZP")
    return "".join(out)


@lru_cache(maxsize=512)
def grantable_bits(bits: int, *, is_dir: bool) -> int:
    """`ocs:share-permissions`: what may be granted further from `bits` (files never 4/8)."""
    if bits == DENIED_BITS:
        return 0
    return bits & ~(CREATE | DELETE) if not is_dir else bits


# --- public-link types ------------------------------------------------------------------------
# The OCS bits of each link type (oCIS linktype.go; reva `ocPublicPermToRole`): view reads; upload
# reads and adds; edit reads, writes, adds, deletes (on a file: read + update); file-drop only adds
# (no listing, names made unique); internal grants nothing beyond what its users already hold.
LINK_BITS = {"view": READ, "upload": READ | CREATE, "edit": READ | UPDATE | CREATE | DELETE,
             "file-drop": CREATE, "internal": 0}
LINK_TYPES = tuple(LINK_BITS)
LINK_FOLDER_ONLY = ("upload", "file-drop")
LINK_FILE_EDIT_BITS = READ | UPDATE


def link_bits(link_type: str, *, is_dir: bool) -> int:
    if link_type == "edit" and not is_dir:
        return LINK_FILE_EDIT_BITS
    return LINK_BITS[link_type]


def link_type_for_bits(bits: int, *, is_dir: bool) -> str:
    """OCS `permissions` of a link (0/1/3/4/5/15; 31 reads as 1, oC10 compat) -> link type."""
    if bits == ALL:
        bits = READ
    if not is_dir and bits in (LINK_FILE_EDIT_BITS, LINK_BITS["edit"]):
        return "edit"
    for link_type, type_bits in LINK_BITS.items():
        if bits == type_bits and (is_dir or link_type not in LINK_FOLDER_ONLY):
            return link_type
    raise BadRequest("invalid permissions for a public link")
