"""Per-user settings through oCIS's settings API (`/api/v0/settings/*`, POST, protojson): the
profile bundle's settings (language, auto-accept shares, notification options) with the caller's
values. Setting ids and types come from the server's bundle, so nothing here hard-codes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocis_cli.client.errors import BadRequest, NotFound, ServerError
from ocis_cli.client.http import HttpClient

_API = "/api/v0/settings/"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True, slots=True)
class SettingValue:
    name: str                 # oCIS's setting name (auto-accept-shares, language, ...)
    id: str
    bundle_id: str
    kind: str                 # bool | choice | options
    value: Any                # bool, option string (None: unset), or {option key: bool}
    is_default: bool          # the user never saved one
    description: str
    choices: tuple[str, ...]  # the allowed option values or keys

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "value": self.value,
                "default": self.is_default, "description": self.description}


def _kind_and_default(setting: dict[str, Any]) -> tuple[str, Any, tuple[str, ...]]:
    if "boolValue" in setting:
        return "bool", bool(setting["boolValue"].get("default", False)), ()
    if "singleChoiceValue" in setting:
        options = setting["singleChoiceValue"].get("options", [])
        values = tuple(str(o["value"]["stringValue"]) for o in options)
        default = next((str(o["value"]["stringValue"]) for o in options if o.get("default")), None)
        return "choice", default, values
    options = setting.get("multiChoiceCollectionValue", {}).get("options", [])
    return "options", {str(o["key"]): bool(o["value"]["boolValue"].get("default", False))
                       for o in options}, tuple(str(o["key"]) for o in options)


def _plain(value: dict[str, Any]) -> Any:
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "listValue" in value:
        return str(value["listValue"]["values"][0]["stringValue"])
    return {str(v["key"]): bool(v.get("boolValue", False))
            for v in value.get("collectionValue", {}).get("values", [])}


class Settings:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def _call(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self._http.json("POST", _API + name, body=body)
        if not isinstance(answer, dict):
            raise ServerError(f"the settings service sent no object for {name}", status=201)
        return answer

    async def list(self) -> list[SettingValue]:
        """Every setting the caller may use, with their value (or the default)."""
        bundles = (await self._call("bundles-list", {})).get("bundles") or []
        values = (await self._call("values-list", {"accountUuid": "me"})).get("values") or []
        saved = {v["value"]["settingId"]: v["value"] for v in values}
        out = []
        for bundle in bundles:
            for setting in bundle.get("settings", []):
                kind, default, choices = _kind_and_default(setting)
                mine = saved.get(setting["id"])
                out.append(SettingValue(
                    str(setting["name"]), str(setting["id"]), str(bundle["id"]), kind,
                    default if mine is None else _plain(mine), mine is None,
                    str(setting.get("description", "")), choices))
        return out

    async def get(self, name: str) -> SettingValue:
        """One setting by name (the `-options` suffix may be left out) or id."""
        key = name.strip().lower()
        for item in await self.list():
            if key in (item.name, item.id, item.name.removesuffix("-options")):
                return item
        raise NotFound(f"no setting {name!r}", status=404)

    async def set(self, name: str, text: str) -> SettingValue:
        """Save a value given as text: true/false, an option (`de`), or `mail=off,in-app=on`."""
        item = await self.get(name)
        value: dict[str, Any] = {"bundleId": item.bundle_id, "settingId": item.id,
                                 "accountUuid": "me", "resource": {"type": "TYPE_USER"}}
        if item.kind == "bool":
            value["boolValue"] = _flag(text)
        elif item.kind == "choice":
            if text not in item.choices:
                raise BadRequest(f"{item.name} is one of {', '.join(item.choices)}", status=400)
            value["listValue"] = {"values": [{"stringValue": text}]}
        else:
            pairs = [part.partition("=") for part in text.split(",") if part.strip()]
            if not pairs or any(not sep for _, sep, _ in pairs):
                raise BadRequest(f"{item.name} takes KEY=on|off pairs ({', '.join(item.choices)})",
                                 status=400)
            value["collectionValue"] = {"values": [{"key": k.strip(), "boolValue": _flag(v)}
                                                   for k, _, v in pairs]}
        saved = (await self._call("values-save", {"value": value})).get("value", {})
        return SettingValue(item.name, item.id, item.bundle_id, item.kind,
                            _plain(saved.get("value", {})), False, item.description, item.choices)


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadRequest(f"{text!r} is not true or false", status=400)
