"""Drives (storage spaces) as LibreGraph `drive` objects: render, list, get, create, update, disable.

Shapes from oCIS `services/graph/pkg/service/v0/drives.go` (`cs3StorageSpaceToDrive`) and the
libre-graph-api `drive` schema. Who may see a space is `auth.authz.space_access`; existence is
hidden behind 404 for everyone without a grant (decomposedfs `canDeleteSpace`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.auth.authz import (
    ROLE_MANAGER,
    Access,
    group_ids,
    manages_all_spaces,
    may_administer_space,
    may_set_quota,
    member_access,
    space_access,
)
from ocis_server.domain import roles
from ocis_server.domain.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from ocis_server.domain.ids import ResourceId
from ocis_server.identity import User
from ocis_server.storage import Space, knows_storage

from . import odata
from .config import CONFIG_KEY, CONTEXT_KEY
from .me import principal

SPACE_NAME_FORBIDDEN = set('/\\.:?*"><|')
MAX_SPACE_NAME = 255
# Request limits (oCIS documents none): a drive's JSON body is a few hundred bytes, 256 KiB is
# plenty (-> 413); a description is a subtitle (the space readme is a file): 4000 characters.
MAX_BODY_BYTES = 256 * 1024
MAX_DESCRIPTION = 4000


# --- rendering --------------------------------------------------------------------------------

def _unified_role_id(space_role: str) -> str:
    """The unified role id of a space role, for v1beta1 (v1.0 keeps the space role name)."""
    unified = roles.SPACE_ROLE_OF_MEMBER.get(space_role)
    return unified.id if unified else space_role


def iso_time(ts: float) -> str:
    """Unix seconds -> ISO 8601 UTC with a `Z`, as Graph clients parse it (an absurd stored
    value is clamped to 1970..9999 rather than raising)."""
    if not 0 <= ts < 253402300800:           # also false for nan
        ts = 253402300799 if ts > 0 else 0
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quota_state(used: int, total: int) -> str:
    """drives.go `calculateQuotaState`: normal <= 75 %, nearing <= 90 %, critical <= 99 %."""
    if total <= 0:
        return "normal"
    percent = used * 100 / total
    if percent <= 75:
        return "normal"
    if percent <= 90:
        return "nearing"
    if percent <= 99:
        return "critical"
    return "exceeded"


def quota_json(used: int, total: int, disk_free: int | None) -> dict[str, Any]:
    """`total` 0 means unlimited; then, as oCIS, `remaining` is the free space of the data disk
    (left out when the data directory is unknown)."""
    body: dict[str, Any] = {"total": total, "used": used, "deleted": 0,
                            "state": quota_state(used, total)}
    if total > 0:
        body["remaining"] = max(total - used, 0)
    elif disk_free is not None:
        body["remaining"] = disk_free
    return body


async def disk_free(request: web.Request) -> int | None:
    data_dir = request.app[CONFIG_KEY].data_dir
    if data_dir is None:
        return None
    try:
        usage = await asyncio.to_thread(shutil.disk_usage, data_dir)
    except OSError:
        return None
    return usage.free


async def _display_name(request: web.Request, user_id: str) -> str | None:
    try:
        return (await request.app[CONTEXT_KEY].users.get(user_id)).display_name
    except NotFound:
        return None


async def _permissions(request: web.Request, space: Space, *, beta: bool) -> list[dict[str, Any]]:
    """Members of a project space with their roles: v1.0 `grantedToIdentities` + role names,
    v1beta1 `grantedToV2` + unified role ids (protocol-notes.md §6)."""
    storage = request.app[CONTEXT_KEY].storage
    members = await storage.members(space.id)
    expiry = await storage.member_expirations(space.id)
    result: list[dict[str, Any]] = []
    for member_id, role in sorted(members.items()):
        identity: dict[str, Any] = {"id": member_id}
        kind, name = "user", await _display_name(request, member_id)
        if name is None:
            name = await _group_name(request, member_id)
            kind = "group" if name is not None else "user"
        if name is not None:
            identity["displayName"] = name
        perm: dict[str, Any]
        if beta:
            perm = {"id": f"{kind[0]}:{member_id}", "grantedToV2": {kind: identity},
                    "roles": [_unified_role_id(role)]}
        else:
            perm = {"grantedToIdentities": [{kind: identity}], "roles": [role]}
        if member_id in expiry:
            perm["expirationDateTime"] = iso_time(expiry[member_id])
        result.append(perm)
    return result


async def _group_name(request: web.Request, group_id: str) -> str | None:
    get_group = getattr(request.app[CONTEXT_KEY].users, "get_group", None)
    if get_group is None:
        return None
    try:
        return str((await get_group(group_id)).name)
    except NotFound:
        return None


async def drive_json(request: web.Request, space: Space, *, free: int | None) -> dict[str, Any]:
    base = request.app[CONFIG_KEY].public_url
    drive_id = space.space_id
    beta = request.match_info.get("api") == "v1beta1"
    owner: dict[str, Any] = {"id": space.owner_id}
    if space.type == "personal":
        name = await _display_name(request, space.owner_id)
        if name is not None:
            owner["displayName"] = name
    root: dict[str, Any] = {
        "id": f"{drive_id}!{space.id}",
        "eTag": f'"{space.etag}"',
        # `$` stays literal in the URL, as oCIS renders it.
        "webDavUrl": f"{base}/dav/spaces/{drive_id}",
    }
    if space.disabled:
        root["deleted"] = {"state": "trashed"}
    if space.unavailable:
        return _unavailable_drive_json(space, owner, root, base)
    if space.type == "project":
        root["permissions"] = await _permissions(request, space, beta=beta)
    return {
        "id": drive_id,
        "name": space.name,
        "driveType": space.type,
        "driveAlias": space.alias,
        "description": space.description,
        "owner": {"user": owner},
        "lastModifiedDateTime": iso_time(space.mtime),
        "webUrl": f"{base}/f/{drive_id}",
        "quota": quota_json(space.used, space.quota_total, free),
        "root": root,
    }


def _unavailable_drive_json(space: Space, owner: dict[str, Any], root: dict[str, Any],
                            base: str) -> dict[str, Any]:
    """A drive whose storage provider is away, from the space registry's snapshot: no eTag,
    quota, modification time or permissions (they are not known), and `@ocis.unavailable`
    (requests into it answer 503 with Retry-After until the provider is back)."""
    del root["eTag"]
    return {"id": space.space_id, "name": space.name, "driveType": space.type,
            "driveAlias": space.alias, "owner": {"user": owner},
            "webUrl": f"{base}/f/{space.space_id}", "root": root, "@ocis.unavailable": True}


ExtraDrives = Callable[[list[tuple[str, str]]], Awaitable[list[dict[str, Any]]]]


async def drives_response(request: web.Request, spaces: list[Space],
                          extra: ExtraDrives | None = None) -> web.Response:
    """`extra(clauses)` adds rendered drives that are not storage spaces (the share jail)."""
    clauses = odata.parse_filter(request.query.get("$filter"))
    order = odata.parse_orderby(request.query.get("$orderby"))
    spaces = [s for s in spaces if all(_matches(s, f, v) for f, v in clauses)]
    if order is None:
        spaces.sort(key=lambda s: (s.type != "personal", s.name.lower(), s.id))
    elif order.field == "name":
        spaces.sort(key=lambda s: (s.name.lower(), s.id), reverse=order.descending)
    else:
        spaces.sort(key=lambda s: (s.mtime, s.id), reverse=order.descending)
    free = await disk_free(request)
    value = [await drive_json(request, s, free=free) for s in spaces]
    if extra is not None:
        value += await extra(clauses)
        if order is not None:
            key = "name" if order.field == "name" else "lastModifiedDateTime"
            value.sort(key=lambda d: (str(d.get(key, "")).lower(), d["id"]),
                       reverse=order.descending)
    return web.json_response({"value": value})


def _matches(space: Space, field: str, value: str) -> bool:
    if field == "driveType":
        return space.type == value
    if field == "driveAlias":
        return space.alias == value
    try:
        wanted = ResourceId.parse(value)
    except BadRequest:
        return False
    return wanted.space_id == space.id and wanted.storage_id in ("", space.storage_id)


async def resolve_drive(request: web.Request, user: User) -> tuple[Space, Access | None]:
    """The drive named in the URL and the caller's access; NotFound when it may not see it."""
    ctx = request.app[CONTEXT_KEY]
    storage = ctx.storage
    rid = ResourceId.parse(request.match_info["drive_id"])
    if rid.node_id or not knows_storage(storage, rid.storage_id):
        raise NotFound("drive not found")
    try:
        access = await member_access(storage, ctx.users, user, rid.space_id)
        return await storage.get_space(rid.space_id), access   # current quota and etag
    except NotFound:
        if not manages_all_spaces(user):
            raise
    return await storage.get_space(rid.space_id), None


def validate_text(value: Any, what: str, *, multiline: bool = False) -> str:
    """A JSON string storable as UTF-8 without control characters (tab, CR and LF only when
    `multiline`); lone surrogates from `\\ud800` escapes and NUL -> 400."""
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{what} is not valid Unicode") from None
    allowed = "\t\r\n" if multiline else ""
    if any((ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0) and ch not in allowed for ch in value):
        raise BadRequest(f"{what} must not contain control characters")
    return value


def validate_description(value: Any) -> str:
    text = validate_text(value, "description", multiline=True)
    if len(text) > MAX_DESCRIPTION:
        raise BadRequest(f"description must not be longer than {MAX_DESCRIPTION} characters")
    return text


def validate_space_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("the drive name must not be empty")
    validate_text(name, "the drive name")
    if len(name) > MAX_SPACE_NAME:
        raise BadRequest("the drive name must not be longer than 255 characters")
    if any(ch in SPACE_NAME_FORBIDDEN for ch in name):
        raise BadRequest('the drive name must not contain any of / \\ . : ? * " > < |')
    return name


def validate_alias(space: Space, alias: Any) -> str:
    """A drive alias keeps its type prefix: `project/<one non-empty segment>`."""
    prefix = f"{space.type}/"
    if isinstance(alias, str):
        validate_text(alias, "driveAlias")
    rest = alias[len(prefix):] if isinstance(alias, str) and alias.startswith(prefix) else ""
    if not rest or "/" in rest or rest.strip() != rest:
        raise BadRequest(f"driveAlias must look like '{prefix}<name>'")
    return str(alias)


def validate_quota(request: web.Request, body: dict[str, Any]) -> int | None:
    """`quota.total` as a non-negative integer within `max_quota`; None when not given."""
    quota = body.get("quota")
    if quota is None or (isinstance(quota, dict) and quota.get("total") is None):
        return None
    total = quota.get("total") if isinstance(quota, dict) else None
    if isinstance(total, float) and total.is_integer():
        total = int(total)          # JavaScript clients may send 1e9 as 1000000000.0
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise BadRequest("quota.total must be a non-negative integer")
    max_quota = request.app[CONFIG_KEY].max_quota
    if max_quota and (total == 0 or total > max_quota):
        raise BadRequest(f"quota.total must be between 1 and {max_quota}")
    return total


async def read_body(request: web.Request) -> dict[str, Any]:
    """The JSON object in the request body; `{}` for an empty body, 413 over MAX_BODY_BYTES
    (refused before reading when announced), 400 for anything else."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge("the request body is too large")
    raw = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge("the request body is too large")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):   # RecursionError: `[[[[...`
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def alias_for(name: str) -> str:
    """decomposedfs default alias template: `project/<name | replace " " "-" | lower>`."""
    return "project/" + name.replace(" ", "-").lower()


# --- handlers --------------------------------------------------------------------------------

async def reachable(request: web.Request, user: User) -> list[Space]:
    """Spaces the user or one of their groups holds a grant on (disabled ones only for their
    Managers)."""
    ctx = request.app[CONTEXT_KEY]
    storage = ctx.storage
    candidates = {s.id: s for s in await storage.list_spaces(member_id=user.id)}
    for gid in await group_ids(ctx.users, user):
        candidates.update({s.id: s for s in await storage.list_spaces(member_id=gid)})
    result = []
    for space in candidates.values():
        if space.unavailable:      # its provider is away: listed from the registry (its owner)
            result.append(space)
            continue
        try:
            await member_access(storage, ctx.users, user, space.id)
        except NotFound:
            continue
        result.append(space)
    return result


async def list_my_drives(request: web.Request, extra: ExtraDrives | None = None) -> web.Response:
    """`GET /me/drives`: the drives the caller is a member of (plus `extra`, see app.py)."""
    user = principal(request)
    return await drives_response(request, await reachable(request, user), extra)


async def get_my_drive(request: web.Request) -> web.Response:
    """`GET /me/drive`: the caller's personal drive (its id is the user id)."""
    user = principal(request)
    storage = request.app[CONTEXT_KEY].storage
    await space_access(storage, user, user.id)
    free = await disk_free(request)
    return web.json_response(await drive_json(request, await storage.get_space(user.id),
                                              free=free))


async def list_drives(request: web.Request) -> web.Response:
    """`GET /drives`: every space for admins and space admins, the caller's own for others."""
    user = principal(request)
    if manages_all_spaces(user):
        spaces = await request.app[CONTEXT_KEY].storage.list_spaces()
    else:
        spaces = await reachable(request, user)
    return await drives_response(request, spaces)


async def create_drive(request: web.Request) -> web.Response:
    """`POST /drives`: a new project space; the creator becomes its Manager. 201 with the drive."""
    user = principal(request)
    authz.require(user, authz.DRIVES_CREATE, "creating spaces is not allowed")
    body = await read_body(request)
    name = validate_space_name(body.get("name"))
    if body.get("driveType", "project") != "project":
        raise BadRequest("only drives of type 'project' can be created")
    description = validate_description(body.get("description", ""))
    quota_total = validate_quota(request, body)
    if quota_total is None:
        quota_total = request.app[CONFIG_KEY].default_quota
    storage = request.app[CONTEXT_KEY].storage
    space = await storage.create_space(space_type="project", name=name, owner_id=user.id,
                                       alias=alias_for(name), quota_total=quota_total,
                                       description=description)
    await storage.set_member(space.id, user.id, ROLE_MANAGER)
    free = await disk_free(request)
    return web.json_response(await drive_json(request, space, free=free), status=201)


async def get_drive(request: web.Request) -> web.Response:
    user = principal(request)
    space, _ = await resolve_drive(request, user)
    return web.json_response(await drive_json(request, space, free=await disk_free(request)))


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() == "T"


async def update_drive(request: web.Request) -> web.Response:
    """`PATCH /drives/{id}`: name, description, driveAlias, quota.total; `Restore: T` re-enables."""
    user = principal(request)
    space, access = await resolve_drive(request, user)
    if not may_administer_space(user, space, access):
        raise PermissionDenied("only a manager of the drive may change it")
    body = await read_body(request)
    restore = _is_true(request.headers.get("Restore"))
    if space.disabled and not restore:
        raise BadRequest("the drive is disabled; restore it first")
    changes: dict[str, Any] = {}
    if restore:
        changes["disabled"] = False
    if "name" in body:
        changes["name"] = validate_space_name(body["name"])
    if "description" in body:
        changes["description"] = validate_description(body["description"])
    if "driveAlias" in body:
        changes["alias"] = validate_alias(space, body["driveAlias"])
    quota_total = validate_quota(request, body)
    if quota_total is not None:
        if not may_set_quota(user, space):
            raise PermissionDenied("changing the quota is not allowed")
        changes["quota_total"] = quota_total
    storage = request.app[CONTEXT_KEY].storage
    updated = await storage.update_space(space.id, **changes) if changes else space
    return web.json_response(await drive_json(request, updated, free=await disk_free(request)))


async def delete_drive(request: web.Request) -> web.Response:
    """`DELETE /drives/{id}` disables (204); with `Purge: T` it deletes a disabled drive (204).
    Purging an enabled drive is a 400, as in oCIS."""
    user = principal(request)
    space, access = await resolve_drive(request, user)
    if not may_administer_space(user, space, access):
        raise PermissionDenied("only a manager of the drive may delete it")
    storage = request.app[CONTEXT_KEY].storage
    if _is_true(request.headers.get("Purge")):
        if not space.disabled:
            raise BadRequest("a drive must be disabled before it can be purged")
        await storage.delete_space(space.id)
    elif not space.disabled:
        await storage.update_space(space.id, disabled=True)
    return web.Response(status=204)
