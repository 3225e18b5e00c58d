"""The profile bundle and its per-user values: `bundles-list`, `bundle-get`, `values-list`,
`values-get`, `values-get-by-unique-identifiers`, `values-save` (oCIS `service.go`). A user reads
and writes only their own values, and only the settings their role's permissions name; values
live in the storage layer, one per user and setting, so saving again keeps the value's id.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ocis_server.domain import settings as catalogue
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User

from .config import CONFIG_KEY, CONTEXT_KEY
from .request import account, body, created, field, principal, role


async def stored_values(request: web.Request, user: User) -> dict[str, dict[str, Any]]:
    """setting id -> the user's saved value (protojson value part); unreadable rows are skipped."""
    raw = await request.app[CONTEXT_KEY].storage.setting_values(user.id)
    out: dict[str, dict[str, Any]] = {}
    for setting_id, text in raw.items():
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if setting_id in catalogue.SETTINGS_BY_ID and isinstance(value, dict):
            out[setting_id] = value
    return out


def _own(caller: User, value: Any, what: str) -> None:
    if account(caller, value) != caller.id:
        raise PermissionDenied(f"can't {what} another user")


def _usable(caller: User, setting_id: Any) -> catalogue.Setting:
    """A profile setting the caller's role may use; 400 for an unknown id."""
    setting = catalogue.SETTINGS_BY_ID.get(setting_id) if isinstance(setting_id, str) else None
    if setting is None:
        raise BadRequest(f"unknown setting id {setting_id!r}")
    if not catalogue.may_use(role(caller), setting):
        raise PermissionDenied(f"no permission for setting {setting.name}")
    return setting


async def list_bundles(request: web.Request) -> web.Response:
    caller = principal(request)
    data = await body(request)
    wanted = field(data, "bundleIds", list)
    bundle = catalogue.profile_bundle_json(role(caller))
    if (wanted and catalogue.BUNDLE_PROFILE not in wanted) or not bundle["settings"]:
        return created({})
    return created({"bundles": [bundle]})


async def get_bundle(request: web.Request) -> web.Response:
    caller = principal(request)
    bundle_id = field(await body(request), "bundleId")
    if not bundle_id:
        raise BadRequest("bundleId is required")
    bundle = catalogue.profile_bundle_json(role(caller))
    if bundle_id != catalogue.BUNDLE_PROFILE or not bundle["settings"]:
        raise NotFound(f"could not read bundle: {bundle_id}")
    return created({"bundle": bundle})


async def list_values(request: web.Request) -> web.Response:
    caller = principal(request)
    data = await body(request)
    _own(caller, field(data, "accountUuid"), "list values of")
    bundle_id = field(data, "bundleId")
    if bundle_id and bundle_id != catalogue.BUNDLE_PROFILE:
        return created({"values": []})
    stored = await stored_values(request, caller)
    language = request.app[CONFIG_KEY].default_language
    if catalogue.SETTING_LANGUAGE not in stored and language:
        # oCIS's default-language decorator: a user who chose none has OCIS_DEFAULT_LANGUAGE.
        stored[catalogue.SETTING_LANGUAGE] = {"listValue": {"values": [{"stringValue": language}]}}
    values = [catalogue.value_json(caller.id, catalogue.SETTINGS_BY_ID[sid], value)
              for sid, value in stored.items()]
    return created({"values": values})


async def get_value(request: web.Request) -> web.Response:
    """`values-get {id}`: one of the caller's own values by its id (anyone else's is not found)."""
    caller = principal(request)
    value_id = field(await body(request), "id")
    if not value_id:
        raise BadRequest("id is required")
    for sid, value in (await stored_values(request, caller)).items():
        if catalogue.value_id(caller.id, sid) == value_id:
            return created({"value": catalogue.value_json(caller.id,
                                                          catalogue.SETTINGS_BY_ID[sid], value)})
    raise NotFound(f"value {value_id} not found")


async def get_value_by_identifiers(request: web.Request) -> web.Response:
    caller = principal(request)
    data = await body(request)
    _own(caller, field(data, "accountUuid"), "get value of")
    setting = _usable(caller, field(data, "settingId"))
    value = (await stored_values(request, caller)).get(setting.id)
    if value is None:
        raise NotFound(f"no value of {setting.name} for this user")
    return created({"value": catalogue.value_json(caller.id, setting, value)})


async def save(request: web.Request, user: User, setting: catalogue.Setting,
               value: dict[str, Any]) -> dict[str, Any]:
    """Store a validated value; its ValueWithIdentifier."""
    await request.app[CONTEXT_KEY].storage.save_setting_value(
        user.id, setting.id, json.dumps(value, separators=(",", ":")))
    return catalogue.value_json(user.id, setting, value)


async def save_value(request: web.Request) -> web.Response:
    caller = principal(request)
    value = field(await body(request), "value", dict)
    if value is None:
        raise BadRequest("value is required")
    _own(caller, field(value, "accountUuid"), "save value for")
    bundle_id = field(value, "bundleId")
    if bundle_id not in (None, catalogue.BUNDLE_PROFILE):
        raise BadRequest(f"unknown bundle id {bundle_id!r}")
    setting = _usable(caller, field(value, "settingId"))
    resource = field(value, "resource", dict) or {}
    if resource.get("type", "TYPE_USER") != "TYPE_USER":
        raise BadRequest("profile values are saved on resource TYPE_USER")
    saved = await save(request, caller, setting, catalogue.parse_value(setting, value))
    return created({"value": saved})
