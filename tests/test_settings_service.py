"""The settings service over HTTP against a real server: oCIS's `/api/v0/settings/*` calls with
oCIS's bundle and setting ids, per-user values that take effect (auto-accept shares, language on
Graph `/me`), roles and assignments that agree with Graph, and the refusals for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from kit import basic

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROFILE = "2a506de7-99bd-4f0d-994e-c38e72c28fd9"
LANGUAGE = "aa8cfbe5-95d4-4f7e-a032-c3c01f5f062f"
AUTO_ACCEPT = "ec3ed4a3-3946-4efc-8f9f-76d38b12d3a9"
SHARE_CREATED = "872d8ef6-6f2a-42ab-af7d-f53cc81d7046"
SHARE_REMOVED = "d7484394-8321-4c84-9677-741ba71e1f80"
ROLE_ADMIN = "71881883-1768-46bd-a24d-a356a2afdf7f"
ROLE_SPACE_ADMIN = "2aadd357-682c-406b-8874-293091995fdd"
ROLE_USER = "d7beeea8-8ff4-406b-8fb6-ab2dd81e6b11"
EINSTEIN = "4c510ada-c86b-4815-8820-42cdf82c3d51"
MARIE = "f7fbf8c8-139b-4376-b307-cf0a8c2d0d9c"
PASSWORDS = {"einstein": "relativity", "marie": "radioactivity", "richard": "superfluidity",
             "moss": "vista", "admin": "admin"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    config = make_test_config(tmp_path_factory.mktemp("settings"),
                              PROXY_LOGIN_MAX_FAILURES="1000",
                              PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS="1000")
    async with embedded_server(config, only=["ocdav", "frontend", "graph", "settings"]) as server:
        yield server


async def call(srv: EmbeddedServer, method: str, path: str, user: str | None,
               json: Any = None, data: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": basic(user, PASSWORDS[user])} if user else {}
    async with aiohttp.ClientSession() as session, \
            session.request(method, srv.url + path, headers=headers, json=json,
                            data=data) as resp:
        text = await resp.text()
        try:
            return resp.status, await resp.json(content_type=None)
        except ValueError:
            return resp.status, text


async def settings(srv: EmbeddedServer, name: str, user: str | None, body: Any = None,
                   raw: str | None = None) -> tuple[int, Any]:
    return await call(srv, "POST", f"/api/v0/settings/{name}", user,
                      json=None if raw is not None else (body if body is not None else {}),
                      data=raw)


def bool_value(setting: str, value: Any, account: str = "me") -> dict[str, Any]:
    return {"value": {"bundleId": PROFILE, "settingId": setting, "accountUuid": account,
                      "resource": {"type": "TYPE_USER"}, "boolValue": value}}


def language(code: str) -> dict[str, Any]:
    return {"value": {"bundleId": PROFILE, "settingId": LANGUAGE, "accountUuid": "me",
                      "resource": {"type": "TYPE_USER"},
                      "listValue": {"values": [{"stringValue": code}]}}}


async def test_profile_bundle_has_ocis_ids(srv: EmbeddedServer) -> None:
    status, body = await settings(srv, "bundles-list", "einstein")
    assert status == 201
    (bundle,) = body["bundles"]
    assert bundle["id"] == PROFILE and bundle["name"] == "profile"
    assert bundle["extension"] == "ocis-accounts" and bundle["type"] == "TYPE_DEFAULT"
    by_name = {s["name"]: s for s in bundle["settings"]}
    assert by_name["language"]["id"] == LANGUAGE
    assert by_name["auto-accept-shares"]["id"] == AUTO_ACCEPT
    assert by_name["auto-accept-shares"]["boolValue"]["default"] is True
    assert by_name["event-share-created-options"]["id"] == SHARE_CREATED
    options = by_name["event-share-removed-options"]["multiChoiceCollectionValue"]["options"]
    assert [(o["key"], o.get("attribute")) for o in options] == [("in-app", None),
                                                                   ("mail", "disabled")]
    langs = [o["value"]["stringValue"]
             for o in by_name["language"]["singleChoiceValue"]["options"]]
    assert "de" in langs and "en" in langs
    status, body = await settings(srv, "bundle-get", "einstein", {"bundleId": PROFILE})
    assert status == 201 and body["bundle"]["id"] == PROFILE
    status, body = await settings(srv, "bundle-get", "einstein", {"bundleId": ROLE_ADMIN})
    assert status == 404 and body["code"] == 404 and body["id"] == "ocis-settings"


async def test_unauthenticated_is_401(srv: EmbeddedServer) -> None:
    status, _ = await settings(srv, "values-list", None)
    assert status == 401


async def test_save_list_get_own_values(srv: EmbeddedServer) -> None:
    status, body = await settings(srv, "values-save", "richard", bool_value(AUTO_ACCEPT, False))
    assert status == 201
    value = body["value"]
    assert value["identifier"] == {"extension": "ocis-accounts", "bundle": "profile",
                                   "setting": "auto-accept-shares"}
    assert value["value"]["boolValue"] is False and value["value"]["settingId"] == AUTO_ACCEPT
    assert value["value"]["resource"] == {"type": "TYPE_USER"}
    value_id = value["value"]["id"]
    # saving again keeps the id; the list has the new value
    status, body = await settings(srv, "values-save", "richard", bool_value(AUTO_ACCEPT, True))
    assert status == 201 and body["value"]["value"]["id"] == value_id
    status, body = await settings(srv, "values-list", "richard", {"accountUuid": "me"})
    assert status == 201
    (listed,) = [v for v in body["values"] if v["value"]["settingId"] == AUTO_ACCEPT]
    assert listed["value"]["boolValue"] is True
    status, body = await settings(srv, "values-get", "richard", {"id": value_id})
    assert status == 201 and body["value"]["value"]["boolValue"] is True
    # notification options: mail off for shares received
    status, body = await settings(srv, "values-save", "richard", {"value": {
        "bundleId": PROFILE, "settingId": SHARE_CREATED, "accountUuid": "me",
        "resource": {"type": "TYPE_USER"},
        "collectionValue": {"values": [{"key": "mail", "boolValue": False}]}}})
    assert status == 201
    assert body["value"]["value"]["collectionValue"]["values"] == [
        {"key": "in-app", "boolValue": True}, {"key": "mail", "boolValue": False}]


async def test_another_users_values_are_refused(srv: EmbeddedServer) -> None:
    status, body = await settings(srv, "values-save", "marie", bool_value(AUTO_ACCEPT, False))
    assert status == 201
    marie_value = body["value"]["value"]["id"]
    status, body = await settings(srv, "values-list", "einstein", {"accountUuid": MARIE})
    assert status == 400 and body["code"] == 403 and body["status"] == "Forbidden"
    status, body = await settings(srv, "values-save", "einstein",
                                  bool_value(AUTO_ACCEPT, True, account=MARIE))
    assert status == 400 and body["code"] == 403
    status, body = await settings(srv, "values-get", "einstein", {"id": marie_value})
    assert status == 404
    # an admin cannot read or write a user's values either (oCIS: own values only)
    status, body = await settings(srv, "values-list", "admin", {"accountUuid": MARIE})
    assert status == 400 and body["code"] == 403
    status, body = await settings(srv, "values-list", "marie", {"accountUuid": "me"})
    (kept,) = [v for v in body["values"] if v["value"]["settingId"] == AUTO_ACCEPT]
    assert kept["value"]["boolValue"] is False


@pytest.mark.parametrize(("body", "status"), [
    (bool_value("00000000-0000-0000-0000-000000000000", True), 400),      # unknown setting
    ({"value": {**bool_value(AUTO_ACCEPT, True)["value"], "bundleId": ROLE_ADMIN}}, 400),
    (bool_value(AUTO_ACCEPT, "yes"), 400),                                 # wrong value type
    (language("xx"), 400),                                                 # not an option
    ({"value": {**language("de")["value"], "boolValue": True, "listValue": None}}, 400),
    ({"value": {"bundleId": PROFILE, "settingId": SHARE_REMOVED, "accountUuid": "me",
                "collectionValue": {"values": [{"key": "mail", "boolValue": True}]}}}, 400),
    ({"value": {"bundleId": PROFILE, "settingId": SHARE_CREATED, "accountUuid": "me",
                "collectionValue": {"values": [{"key": "sms", "boolValue": True}]}}}, 400),
    ({}, 400),                                                             # no value
    ([1, 2], 412),                                                         # not an object
])
async def test_bad_values_are_refused(srv: EmbeddedServer, body: Any, status: int) -> None:
    got, answer = await settings(srv, "values-save", "einstein", body)
    assert got == status, answer
    assert answer["id"] == "ocis-settings" and isinstance(answer["detail"], str)


async def test_not_json_is_412_and_unknown_call_404(srv: EmbeddedServer) -> None:
    status, body = await settings(srv, "values-list", "einstein", raw="{not json")
    assert status == 412 and body["code"] == 412
    status, body = await settings(srv, "no-such-call", "einstein")
    assert status == 404 and body["code"] == 404


async def _share(srv: EmbeddedServer, owner: str, path: str, share_with: str,
                 share_type: str = "0") -> None:
    status, _ = await call(srv, "PUT", f"/remote.php/dav/files/{owner}{path}", owner, data=b"x")
    assert status in (201, 204)
    status, body = await call(srv, "POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares"
                              "?format=json", owner,
                              data={"path": path, "shareWith": share_with,
                                    "shareType": share_type, "permissions": "1"})
    assert status == 200, body


async def _received_states(srv: EmbeddedServer, user: str) -> dict[str, int]:
    status, body = await call(srv, "GET", "/ocs/v2.php/apps/files_sharing/api/v1/shares"
                              "?format=json&shared_with_me=true&state=all", user)
    assert status == 200
    return {s["file_target"].rsplit("/", 1)[-1]: s["state"] for s in body["ocs"]["data"]}


async def test_auto_accept_setting_overrides_server_default(srv: EmbeddedServer) -> None:
    """Server default: accept. Marie turned it off (above or here), so her shares wait."""
    await settings(srv, "values-save", "marie", bool_value(AUTO_ACCEPT, False))
    await _share(srv, "einstein", "/for-marie.txt", "marie")
    await _share(srv, "einstein", "/for-moss.txt", "moss")
    assert (await _received_states(srv, "marie"))["for-marie.txt"] == 1      # pending
    assert (await _received_states(srv, "moss"))["for-moss.txt"] == 0        # accepted
    # a group share: marie (a member of `users`) waits, moss gets it at once
    await _share(srv, "einstein", "/for-users.txt", "users", share_type="1")
    assert (await _received_states(srv, "marie"))["for-users.txt"] == 1
    assert (await _received_states(srv, "moss"))["for-users.txt"] == 0
    # turned back on: the next share is accepted
    await settings(srv, "values-save", "marie", bool_value(AUTO_ACCEPT, True))
    await _share(srv, "einstein", "/again.txt", "marie")
    assert (await _received_states(srv, "marie"))["again.txt"] == 0


async def test_language_is_graph_preferred_language(srv: EmbeddedServer) -> None:
    status, me = await call(srv, "GET", "/graph/v1.0/me", "moss")
    assert status == 200 and "preferredLanguage" not in me
    status, body = await settings(srv, "values-save", "moss", language("de"))
    assert status == 201
    assert body["value"]["value"]["listValue"] == {"values": [{"stringValue": "de"}]}
    status, me = await call(srv, "GET", "/graph/v1.0/me", "moss")
    assert me["preferredLanguage"] == "de"
    status, me = await call(srv, "PATCH", "/graph/v1.0/me", "moss",
                            json={"preferredLanguage": "fr"})
    assert status == 200 and me["preferredLanguage"] == "fr"
    status, body = await settings(srv, "values-list", "moss")
    (lang,) = [v for v in body["values"] if v["identifier"]["setting"] == "language"]
    assert lang["value"]["listValue"]["values"] == [{"stringValue": "fr"}]
    status, body = await call(srv, "PATCH", "/graph/v1.0/me", "moss",
                              json={"preferredLanguage": "klingon"})
    assert status == 400
    status, body = await call(srv, "PATCH", "/graph/v1.0/me", "moss",
                              json={"displayName": "Boss"})
    assert status == 400


async def test_roles_and_assignments_agree_with_graph(srv: EmbeddedServer) -> None:
    status, body = await settings(srv, "roles-list", "einstein")
    assert status == 201
    names = {b["name"]: b for b in body["bundles"]}
    assert set(names) == {"admin", "spaceadmin", "user", "user-light"}
    assert names["admin"]["id"] == ROLE_ADMIN and names["admin"]["type"] == "TYPE_ROLE"
    assert names["user-light"]["displayName"] == "User Light"
    status, body = await settings(srv, "assignments-list", "einstein", {"accountUuid": EINSTEIN})
    assert status == 201 and body["assignments"][0]["roleId"] == ROLE_USER
    status, body = await settings(srv, "permissions-list", "einstein", {"accountUuid": "me"})
    assert "Drives.Create.own" in body["permissions"]
    assert "Roles.ReadWrite.all" not in body["permissions"]
    # only admins list others' assignments and assign roles
    status, body = await settings(srv, "assignments-list", "einstein", {"accountUuid": MARIE})
    assert status == 400 and body["code"] == 403
    status, body = await settings(srv, "assignments-add", "einstein",
                                  {"accountUuid": MARIE, "roleId": ROLE_ADMIN})
    assert status == 400 and body["code"] == 403
    status, body = await settings(srv, "assignments-add", "admin",
                                  {"accountUuid": EINSTEIN, "roleId": ROLE_SPACE_ADMIN})
    assert status == 201 and body["assignment"]["roleId"] == ROLE_SPACE_ADMIN
    assignment = body["assignment"]["id"]
    # Graph sees the same role and the same assignment id
    status, graph = await call(srv, "GET", f"/graph/v1.0/users/{EINSTEIN}/appRoleAssignments",
                               "admin")
    assert graph["value"][0]["appRoleId"] == ROLE_SPACE_ADMIN
    assert graph["value"][0]["id"] == assignment
    status, body = await settings(srv, "permissions-list", "einstein")
    assert "Drives.Create.all" in body["permissions"]
    status, body = await call(srv, "POST", "/graph/v1.0/drives", "einstein",
                              json={"name": "Einstein's project"})
    assert status == 201
    # bad role id, unknown user, own role
    status, body = await settings(srv, "assignments-add", "admin",
                                  {"accountUuid": EINSTEIN, "roleId": "nope"})
    assert status == 400
    status, body = await settings(srv, "assignments-add", "admin",
                                  {"accountUuid": "no-such-user", "roleId": ROLE_USER})
    assert status == 404
    status, body = await settings(srv, "assignments-add", "admin",
                                  {"accountUuid": "me", "roleId": ROLE_USER})
    assert status == 400 and body["code"] == 403
    # removing the assignment leaves the default role User
    status, _ = await settings(srv, "assignments-remove", "admin", {"id": assignment})
    assert status == 204
    status, body = await settings(srv, "assignments-list", "admin", {"accountUuid": EINSTEIN})
    assert body["assignments"][0]["roleId"] == ROLE_USER
    status, body = await settings(srv, "assignments-remove", "admin", {"id": assignment})
    assert status == 404


async def test_permissions_by_resource(srv: EmbeddedServer) -> None:
    status, body = await settings(srv, "permissions-list-by-resource", "einstein",
                                  {"resource": {"type": "TYPE_SETTING", "id": LANGUAGE}})
    assert status == 201
    assert body["permissions"] == [{"operation": "OPERATION_READWRITE",
                                    "constraint": "CONSTRAINT_OWN"}]
    status, body = await settings(srv, "permissions-list-by-resource", "admin",
                                  {"resource": {"type": "TYPE_SETTING", "id": LANGUAGE}})
    assert body["permissions"][0]["constraint"] == "CONSTRAINT_ALL"
    status, body = await settings(srv, "permissions-list-by-resource", "einstein", {})
    assert status == 400
    status, body = await settings(srv, "permissions-list", "einstein", {"accountUuid": MARIE})
    assert status == 404
