"""The settings catalogue as oCIS ships it (`services/settings/pkg/store/defaults/{defaults,
permissions,templates}.go`): the four role bundles with their permissions, the profile bundle with
its per-user settings (language, auto-accept shares, notification options), their fixed ids, how a
value is validated and how bundles and values are rendered as protojson. Pure: the values live in
storage, a user's role in the user store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import BadRequest

# --- fixed ids (defaults.go) ---------------------------------------------------------------------
ROLE_ADMIN = "71881883-1768-46bd-a24d-a356a2afdf7f"
ROLE_SPACE_ADMIN = "2aadd357-682c-406b-8874-293091995fdd"
ROLE_USER = "d7beeea8-8ff4-406b-8fb6-ab2dd81e6b11"
ROLE_USER_LIGHT = "38071a68-456a-4553-846a-fa67bf5596cc"
BUNDLE_PROFILE = "2a506de7-99bd-4f0d-994e-c38e72c28fd9"
SETTING_LANGUAGE = "aa8cfbe5-95d4-4f7e-a032-c3c01f5f062f"
SETTING_DISABLE_EMAIL = "33ffb5d6-cd07-4dc0-afb0-84f7559ae438"
SETTING_AUTO_ACCEPT = "ec3ed4a3-3946-4efc-8f9f-76d38b12d3a9"
SETTING_EMAIL_INTERVAL = "08dec2fe-3f97-42a9-9d1b-500855e92f25"
ROLE_MANAGEMENT = "a53e601e-571f-4f86-8fec-d4576ef49c62"    # Roles.ReadWrite

# --- permissions (permissions.go): id, name, display name, resource type[/id], operation ---------
ALL, OWN = "CONSTRAINT_ALL", "CONSTRAINT_OWN"
_RW, _R, _W, _D = "OPERATION_READWRITE", "OPERATION_READ", "OPERATION_WRITE", "OPERATION_DELETE"


@dataclass(frozen=True, slots=True)
class Permission:
    id: str
    name: str
    display_name: str
    resource: str               # TYPE_USER, TYPE_SYSTEM, TYPE_SETTING/<id>, ...
    operation: str


_P = Permission
_PERMS = {p.name: p for p in (
    _P("8e587774-d929-4215-910b-a317b1e80f73", "Accounts.ReadWrite", "Account Management",
       "TYPE_USER/all", _RW),
    _P("4e41363c-a058-40a5-aec8-958897511209", "AutoAcceptShares.ReadWriteDisabled",
       "enable/disable auto accept shares", "TYPE_SETTING/" + SETTING_AUTO_ACCEPT, _RW),
    _P("ed83fc10-1f54-4a9e-b5a7-fb517f5f3e01", "Logo.Write", "Change logo", "TYPE_SYSTEM", _RW),
    _P("11516bbd-7157-49e1-b6ac-d00c820f980b", "PublicLink.Write", "Write publiclink",
       "TYPE_SHARE", _W),
    _P("069c08b1-e31f-4799-9ed6-194b310e7244", "Shares.Write", "Write share", "TYPE_SHARE", _W),
    _P("79e13b30-3e22-11eb-bc51-0b9f0bad9a58", "Drives.Create", "Create Space", "TYPE_SYSTEM",
       _RW),
    _P("5de9fe0a-4bc5-4a47-b758-28f370caf169", "Drives.DeletePersonal",
       "Delete All Home Spaces", "TYPE_SYSTEM", _D),
    _P("fb60b004-c1fa-4f09-bf87-55ce7d46ac61", "Drives.DeleteProject", "Delete AllSpaces",
       "TYPE_SYSTEM", _D),
    _P("e9a697c5-c67b-40fc-982b-bcf628e9916d", "ReadOnlyPublicLinkPassword.Delete",
       "Delete Read-Only Public link password", "TYPE_SHARE", _W),
    _P("ad5bb5e5-dc13-4cd3-9304-09a424564ea8", "EmailNotifications.ReadWriteDisabled",
       "Disable Email Notifications", "TYPE_SETTING/" + SETTING_DISABLE_EMAIL, _RW),
    _P("7dc204ee-799a-43b6-b85d-425fb3b1fa5a", "EmailSendingInterval.ReadWrite",
       "Email Sending Interval", "TYPE_SETTING/" + SETTING_EMAIL_INTERVAL, _RW),
    _P("522adfbe-5908-45b4-b135-41979de73245", "Groups.ReadWrite", "Group Management",
       "TYPE_GROUP/all", _RW),
    _P("7d81f103-0488-4853-bce5-98dcce36d649", "Language.ReadWrite",
       "Permission to read and set the language", "TYPE_SETTING/" + SETTING_LANGUAGE, _RW),
    _P("4ebaa725-bfaa-43c5-9817-78bc9994bde4", "Favorites.List", "List Favorites",
       "TYPE_SYSTEM", _R),
    _P("016f6ddd-9501-4a0a-8ebe-64a20ee8ec82", "Drives.List", "List All Spaces", "TYPE_SYSTEM",
       _R),
    _P("b44b4054-31a2-42b8-bb71-968b15cfbd4f", "Drives.ReadWrite", "Manage space properties",
       "TYPE_SYSTEM", _RW),
    _P(ROLE_MANAGEMENT, "Roles.ReadWrite", "Role Management", "TYPE_USER/all", _RW),
    _P("e03070e9-4362-4cc6-a872-1c7cb2eb2b8e", "Self.ReadWrite", "Self Management",
       "TYPE_USER/me", _RW),
    _P("4e6f9709-f9e7-44f1-95d4-b762d27b7896", "Drives.ReadWritePersonalQuota",
       "Set Personal Space Quota", "TYPE_SYSTEM", _RW),
    _P("977f0ae6-0da2-4856-93f3-22e0a8482489", "Drives.ReadWriteProjectQuota",
       "Set Project Space Quota", "TYPE_SYSTEM", _RW),
    _P("3d58f441-4a05-42f8-9411-ef5874528ae1", "Settings.ReadWrite", "Settings Management",
       "TYPE_USER/all", _RW),
    _P("cf3faa8c-50d9-4f84-9650-ff9faf21aa9d", "Drives.ReadWriteEnabled", "Space ability",
       "TYPE_SYSTEM", _RW),
    _P("a54778fd-1c45-47f0-892d-655caf5236f2", "Favorites.Write", "Write Favorites",
       "TYPE_FILE", _W),
)}

# --- the profile bundle's settings (defaults.go, templates.go) ----------------------------------
BOOL, SINGLE, MULTI = "bool", "single", "multi"
LANGUAGES = (("bg", "български"), ("cs", "Czech"), ("de", "Deutsch"), ("en", "English"),
             ("es", "Español"), ("fr", "Français"), ("gl", "Galego"), ("it", "Italiano"),
             ("nl", "Nederlands"), ("ko", "한국어"), ("sq", "Shqipja"), ("sv", "Svenska"),
             ("tr", "Türkçe"), ("zh", "汉语"))
INTERVALS = (("instant", "Instant"), ("daily", "Daily"), ("weekly", "Weekly"),
             ("never", "Never"))


@dataclass(frozen=True, slots=True)
class Setting:
    id: str
    name: str                   # oCIS's setting name, also the CLI's name for it
    display_name: str
    description: str
    kind: str                   # BOOL, SINGLE (one of `options`), MULTI (in-app / mail flags)
    default: Any = None         # bool, option value, or {key: bool}
    options: tuple[tuple[str, str], ...] = ()
    disabled: frozenset[str] = field(default_factory=frozenset)  # MULTI keys fixed at default
    permission: str = ""        # the permission that lets a role read/write it


def _event(sid: str, event: str, display: str, description: str, *, mail: bool = True) -> Setting:
    perm = "Event." + "".join(w.capitalize() for w in event.split("-")) + ".ReadWrite"
    return Setting(sid, f"event-{event}-options", display, description, MULTI,
                   {"in-app": True, "mail": mail}, (("in-app", "In-App"), ("mail", "Email")),
                   frozenset() if mail else frozenset({"mail"}), perm)


PROFILE_SETTINGS: tuple[Setting, ...] = (
    Setting(SETTING_LANGUAGE, "language", "Language", "User language", SINGLE, None, LANGUAGES,
            permission="Language.ReadWrite"),
    Setting(SETTING_DISABLE_EMAIL, "disable-email-notifications", "Disable Email Notifications",
            "Disable email notifications", BOOL, False,
            permission="EmailNotifications.ReadWriteDisabled"),
    Setting(SETTING_AUTO_ACCEPT, "auto-accept-shares", "Auto accept shares",
            "Automatically accept shares", BOOL, True,
            permission="AutoAcceptShares.ReadWriteDisabled"),
    Setting(SETTING_EMAIL_INTERVAL, "email-sending-interval-options", "Email sending interval",
            "Notifiy me via email:", SINGLE, "instant", INTERVALS,
            permission="EmailSendingInterval.ReadWrite"),
    _event("872d8ef6-6f2a-42ab-af7d-f53cc81d7046", "share-created", "Share Received",
           "Notify me when I receive a share"),
    _event("d7484394-8321-4c84-9677-741ba71e1f80", "share-removed", "Share Removed",
           "Notify me when my shares are removed", mail=False),
    _event("e1aa0b7c-1b0f-4072-9325-c643c89fee4e", "share-expired", "Share Expired",
           "Notify me when my shares expire"),
    _event("694d5ee1-a41c-448c-8d14-396b95d2a918", "space-shared", "Added as space member",
           "Notify me when I am added as a member to a space"),
    _event("26c20e0e-98df-4483-8a77-759b3a766af0", "space-unshared", "Removed as space member",
           "Notify me when I am removed as a member from a space"),
    _event("7275921e-b737-4074-ba91-3c2983be3edd", "space-membership-expired",
           "Space membership expired", "Notify me when my membership of a space expires"),
    _event("eb5c716e-03be-42c6-9ed1-1105d24e109f", "space-disabled", "Space disabled",
           "Notify me when a space I am a member of is disabled", mail=False),
    _event("094ceca9-5a00-40ba-bb1a-bbc7bccd39ee", "space-deleted", "Space deleted",
           "Notify me when a space I am a member of is deleted", mail=False),
    _event("fe0a3011-d886-49c8-b797-33d02fa426ef", "postprocessing-step-finished",
           "File rejected", "Notify me when a file I uploaded is rejected because of virus "
           "infection or policy violation", mail=False),
)
# Event permissions' ids (permissions.go), keyed by the name `_event` derives.
_EVENT_PERMISSION_IDS = {
    "Event.ShareCreated.ReadWrite": "8a50540c-1cdd-481f-b85f-44654393c8f0",
    "Event.ShareRemoved.ReadWrite": "5ef55465-8e39-4a6c-ba97-1d19f5b07116",
    "Event.ShareExpired.ReadWrite": "7d4f961b-d471-451b-b1fd-ac6a9d59ce88",
    "Event.SpaceShared.ReadWrite": "feb16d2c-614c-4f79-ac37-755a028f5616",
    "Event.SpaceUnshared.ReadWrite": "4f979732-631b-4f27-9be7-a89fb223a6d2",
    "Event.SpaceMembershipExpired.ReadWrite": "a3cc45bf-9720-4e08-b403-b9133fe33f0b",
    "Event.SpaceDisabled.ReadWrite": "896194c2-5055-4ea3-94a3-0a1419187a00",
    "Event.SpaceDeleted.ReadWrite": "2083c280-b140-4b73-a931-9a4af2931531",
    "Event.PostprocessingStepFinished.ReadWrite": "27ba8e97-0bdf-4b18-97d4-df44c9568cda",
}
for _s in PROFILE_SETTINGS[4:]:
    _PERMS[_s.permission] = Permission(_EVENT_PERMISSION_IDS[_s.permission], _s.permission,
                                       _s.display_name, "TYPE_SETTING/" + _s.id, _RW)
SETTINGS_BY_ID = {s.id: s for s in PROFILE_SETTINGS}
SETTINGS_BY_NAME = {s.name: s for s in PROFILE_SETTINGS}
PERMISSIONS_BY_ID = {p.id: p for p in _PERMS.values()}


# --- role bundles (defaults.go) ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RoleBundle:
    id: str
    name: str                   # oCIS bundle name
    store_role: str             # the role name the user store keeps (identity `User.role`)
    display_name: str
    description: str            # Graph appRole description
    permissions: tuple[tuple[str, str], ...]   # (permission name, constraint)


_SELF_PROFILE = tuple((name, OWN) for name in (
    "AutoAcceptShares.ReadWriteDisabled", "EmailNotifications.ReadWriteDisabled",
    "EmailSendingInterval.ReadWrite", *_EVENT_PERMISSION_IDS))
_SPACES_ADMIN = tuple((name, ALL) for name in (
    "Drives.Create", "Drives.DeleteProject", "ReadOnlyPublicLinkPassword.Delete", "Drives.List",
    "Drives.ReadWrite", "Drives.ReadWriteProjectQuota", "Drives.ReadWriteEnabled"))
_SHARING = (("PublicLink.Write", ALL), ("Shares.Write", ALL))
_FAVORITES = (("Favorites.List", OWN), ("Favorites.Write", OWN))

ROLES: tuple[RoleBundle, ...] = (
    RoleBundle(ROLE_ADMIN, "admin", "admin", "Admin", "Grants admin permissions on all resources",
               _SHARING + _SPACES_ADMIN + _SELF_PROFILE + _FAVORITES + tuple(
                   (name, ALL) for name in (
                       "Accounts.ReadWrite", "Logo.Write", "Drives.DeletePersonal",
                       "Groups.ReadWrite", "Language.ReadWrite", "Roles.ReadWrite",
                       "Drives.ReadWritePersonalQuota", "Settings.ReadWrite"))),
    RoleBundle(ROLE_SPACE_ADMIN, "spaceadmin", "spaceadmin", "Space Admin",
               "Grants Space admin permissions on all resources",
               _SHARING + _SPACES_ADMIN + _SELF_PROFILE + _FAVORITES + (
                   ("Language.ReadWrite", OWN), ("Self.ReadWrite", OWN))),
    RoleBundle(ROLE_USER, "user", "user", "User", "Grants user permissions on all resources",
               _SHARING + (("Drives.Create", OWN),) + _SELF_PROFILE + _FAVORITES + (
                   ("Language.ReadWrite", OWN), ("Self.ReadWrite", OWN))),
    RoleBundle(ROLE_USER_LIGHT, "user-light", "guest", "User Light",
               "Grants User Light permissions on all resources",
               _SELF_PROFILE + (("Language.ReadWrite", OWN),)),
)
ROLES_BY_ID = {r.id: r for r in ROLES}
ROLES_BY_STORE = {r.store_role: r for r in ROLES}
DEFAULT_STORE_ROLE = "user"
_ASSIGNMENT_NS = uuid.UUID("6f1f4f0c-7a55-4a8c-9f0e-0c4b2b9f7a11")
_VALUE_NS = uuid.UUID("0d3c1d52-3b0e-4c44-9d4f-6a1e9b0f5e21")


def role_of(store_role: str) -> RoleBundle:
    """The role bundle of a user store role (an unknown one counts as User)."""
    return ROLES_BY_STORE.get(store_role) or ROLES_BY_STORE[DEFAULT_STORE_ROLE]


def assignment_id(user_id: str, store_role: str) -> str:
    """Stable per (user, role): the same assignment keeps its id, a new role gets a new one."""
    return str(uuid.uuid5(_ASSIGNMENT_NS, f"{user_id}:{store_role}"))


def value_id(user_id: str, setting_id: str) -> str:
    """A stored value's id: one value per user and setting, so saving again keeps the id."""
    return str(uuid.uuid5(_VALUE_NS, f"{user_id}:{setting_id}"))


def permission_names(role: RoleBundle) -> list[str]:
    """`permissions-list`: `<name>.<constraint>` as oCIS's formatPermissionName writes them."""
    return [f"{name}.{constraint.removeprefix('CONSTRAINT_').lower()}"
            for name, constraint in role.permissions]


def may_use(role: RoleBundle, setting: Setting) -> bool:
    """Whether the role's permissions let a user read and write their own value of a setting."""
    return any(name == setting.permission for name, _ in role.permissions)


def setting_by_name(name: str) -> Setting:
    """A profile setting by oCIS name, id, or name without its `-options` suffix."""
    key = name.strip().lower()
    found = (SETTINGS_BY_NAME.get(key) or SETTINGS_BY_ID.get(key)
             or SETTINGS_BY_NAME.get(key + "-options"))
    if found is None:
        raise BadRequest(f"unknown setting {name!r}")
    return found


# --- values: validation and rendering --------------------------------------------------------------
def parse_value(setting: Setting, body: dict[str, Any]) -> dict[str, Any]:
    """The value part of a protojson `Value` checked against the setting's type; normalised so
    that it is stored as it will be rendered. BadRequest for a wrong type or an unknown option."""
    if setting.kind == BOOL:
        value = body.get("boolValue", body.get("bool_value"))
        if not isinstance(value, bool):
            raise BadRequest(f"setting {setting.name} takes a boolValue")
        return {"boolValue": value}
    if setting.kind == SINGLE:
        items = _list(body, "listValue", "list_value", "values")
        allowed = {value for value, _ in setting.options}
        if len(items) != 1 or not isinstance(items[0], dict):
            raise BadRequest(f"setting {setting.name} takes a listValue with one stringValue")
        chosen = items[0].get("stringValue", items[0].get("string_value"))
        if chosen not in allowed:
            raise BadRequest(f"{chosen!r} is not an option of {setting.name}")
        return {"listValue": {"values": [{"stringValue": chosen}]}}
    items = _list(body, "collectionValue", "collection_value", "values")
    flags: dict[str, bool] = dict(setting.default)
    for item in items:
        key = item.get("key") if isinstance(item, dict) else None
        flag = item.get("boolValue", item.get("bool_value")) if isinstance(item, dict) else None
        if key not in flags or not isinstance(flag, bool):
            raise BadRequest(f"setting {setting.name} takes collectionValue items "
                             f"{{key: {'|'.join(flags)}, boolValue}}")
        if key in setting.disabled and flag != setting.default[key]:
            raise BadRequest(f"option {key} of {setting.name} cannot be changed")
        flags[key] = flag
    return {"collectionValue": {"values": [{"key": k, "boolValue": v} for k, v in flags.items()]}}


def _list(body: dict[str, Any], camel: str, snake: str, inner: str) -> list[Any]:
    container = body.get(camel, body.get(snake))
    items = container.get(inner) if isinstance(container, dict) else None
    if not isinstance(items, list):
        raise BadRequest(f"a {camel} with {inner} is required")
    return items


def default_value(setting: Setting, language: str = "") -> dict[str, Any] | None:
    """The value a user has who never saved one (language: OCIS_DEFAULT_LANGUAGE, if set)."""
    if setting.kind == BOOL:
        return {"boolValue": bool(setting.default)}
    if setting.kind == SINGLE:
        chosen = language if setting.id == SETTING_LANGUAGE else setting.default
        return {"listValue": {"values": [{"stringValue": chosen}]}} if chosen else None
    return {"collectionValue": {"values": [{"key": k, "boolValue": v}
                                           for k, v in setting.default.items()]}}


def plain(value: dict[str, Any]) -> Any:
    """A stored value as a plain Python value: bool, option string, or {key: bool}."""
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "listValue" in value:
        return str(value["listValue"]["values"][0]["stringValue"])
    return {str(v["key"]): bool(v["boolValue"]) for v in value["collectionValue"]["values"]}


def value_json(user_id: str, setting: Setting, value: dict[str, Any]) -> dict[str, Any]:
    """`ValueWithIdentifier` as oCIS renders it."""
    return {"identifier": {"extension": "ocis-accounts", "bundle": "profile",
                           "setting": setting.name},
            "value": {"id": value_id(user_id, setting.id), "bundleId": BUNDLE_PROFILE,
                      "settingId": setting.id, "accountUuid": user_id,
                      "resource": {"type": "TYPE_USER"}, **value}}


def _setting_json(setting: Setting) -> dict[str, Any]:
    out: dict[str, Any] = {"id": setting.id, "name": setting.name,
                           "displayName": setting.display_name,
                           "description": setting.description, "resource": {"type": "TYPE_USER"}}
    if setting.kind == BOOL:
        out["boolValue"] = {"label": setting.display_name.lower(),
                            **({"default": True} if setting.default else {})}
    elif setting.kind == SINGLE:
        out["singleChoiceValue"] = {"options": [
            {"value": {"stringValue": value}, "displayValue": shown,
             **({"default": True} if value == setting.default else {})}
            for value, shown in setting.options]}
    else:
        out["multiChoiceCollectionValue"] = {"options": [
            {"value": {"boolValue": {"default": True} if setting.default[key] else {}},
             "key": key, "displayValue": shown,
             **({"attribute": "disabled"} if key in setting.disabled else {})}
            for key, shown in setting.options]}
    return out


def profile_bundle_json(role: RoleBundle) -> dict[str, Any]:
    """The profile bundle with the settings the role may use (oCIS filters by permission)."""
    return {"id": BUNDLE_PROFILE, "name": "profile", "type": "TYPE_DEFAULT",
            "extension": "ocis-accounts", "displayName": "Profile",
            "resource": {"type": "TYPE_SYSTEM"},
            "settings": [_setting_json(s) for s in PROFILE_SETTINGS if may_use(role, s)]}


def _permission_json(name: str, constraint: str) -> dict[str, Any]:
    perm = _PERMS[name]
    rtype, _, rid = perm.resource.partition("/")
    return {"id": perm.id, "name": perm.name, "displayName": perm.display_name,
            "resource": {"type": rtype, **({"id": rid} if rid else {})},
            "permissionValue": {"operation": perm.operation, "constraint": constraint}}


def role_bundle_json(role: RoleBundle) -> dict[str, Any]:
    return {"id": role.id, "name": role.name, "type": "TYPE_ROLE", "extension": "ocis-roles",
            "displayName": role.display_name, "resource": {"type": "TYPE_SYSTEM"},
            "settings": [_permission_json(n, c) for n, c in role.permissions]}


def permissions_on(role: RoleBundle, rtype: str, rid: str) -> list[dict[str, Any]]:
    """`permissions-list-by-resource`: the role's permissions on one resource."""
    out = []
    for name, constraint in role.permissions:
        ptype, _, pid = _PERMS[name].resource.partition("/")
        if ptype == rtype and (pid or "") == (rid or ""):
            out.append({"operation": _PERMS[name].operation, "constraint": constraint})
    return out
