"""WebDAV class 2: LOCK/UNLOCK, the If header (RFC 4918 §10.4) and the lock check every
write runs before touching storage. Locks live in the storage (`put_lock`, `locks_covering`).
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound, OcisError, PermissionDenied
from ocis_server.storage import LockRecord, Node

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import (
    DavTarget,
    config_of,
    destination_path,
    principal_of,
    request_target,
    resolve,
    storage_of,
    strip_query,
    user_of,
)
from .xml import CONTENT_TYPE, NS_DAV, XML_DECL, esc, inner_xml, is_tag, read_xml

NO_LOCK = "DAV:no-lock"
# The caller's lock tokens from the If header, evaluated once per request.
SUBMITTED_KEY: web.RequestKey[set[str]] = web.RequestKey("ocdav_submitted", set)
# The only lock tokens this server issues; anything else can match no lock, so it never
# reaches the storage (a non-UTF-8 header byte would not even survive the query).
_OUR_TOKEN = re.compile(r"opaquelocktoken:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                        r"[0-9a-f]{12}", re.IGNORECASE)
_IF_TOKEN = re.compile(r'\s*(?:(<[^>]*>)|(\()|(\))|(\[[^\]]*\])|(Not)\b)', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class IfList:
    resource: str | None                       # tagged list: the encoded URL it applies to
    conditions: tuple[tuple[bool, str, str], ...]   # (negated, "token" | "etag", value)


def parse_if(header: str) -> list[IfList]:
    """Parse an If header into its lists; malformed -> 400."""
    lists: list[IfList] = []
    resource: str | None = None
    current: list[tuple[bool, str, str]] | None = None
    negate = False
    pos = 0
    while pos < len(header):
        if header[pos:].strip() == "":
            break
        m = _IF_TOKEN.match(header, pos)
        if not m:
            raise BadRequest("malformed If header")
        pos = m.end()
        coded, opening, closing, etag, not_kw = m.groups()
        if opening:
            if current is not None:
                raise BadRequest("malformed If header")
            current = []
        elif closing:
            if not current:
                raise BadRequest("malformed If header")
            lists.append(IfList(resource, tuple(current)))
            current = None
        elif not_kw:
            if current is None or negate:
                raise BadRequest("malformed If header")
            negate = True
        elif current is None:
            if not coded:
                raise BadRequest("malformed If header")
            resource = coded[1:-1]            # a resource tag starts a tagged list
        else:
            kind, value = ("token", coded[1:-1]) if coded else ("etag", etag[1:-1])
            current.append((negate, kind, value))
            negate = False
    if current is not None or not lists:
        raise BadRequest("malformed If header")
    return lists


def _strip_weak(etag: str) -> str:
    return etag.removeprefix("W/")


def covers(lock: LockRecord, space_id: str, path: tuple[str, ...]) -> bool:
    if lock.space_id != space_id:
        return False
    n = len(lock.path)
    return lock.path == path or (lock.depth_infinity and path[:n] == lock.path)


async def _resource_state(request: web.Request, target: DavTarget) -> tuple[str | None, set[str]]:
    """(quoted etag or None, tokens of the locks covering it) of a resource."""
    storage = storage_of(request)
    try:
        node = await storage.lookup(target.space_id, target.path)
        etag: str | None = f'"{node.etag}"'
    except NotFound:
        etag = None
    locks = await storage.locks_covering(target.space_id, target.path)
    return etag, {lock.token for lock in locks}


async def _list_target(request: web.Request, default: DavTarget, resource: str | None) -> DavTarget:
    if resource is None:
        return default
    ctx = request.app[CONTEXT_KEY]
    path = strip_query(destination_path(resource, request.host, ctx.public_url))
    return await resolve(ctx.storage, principal_of(request), path, ctx.users)


async def evaluate_if(request: web.Request, target: DavTarget) -> set[str]:
    """Check the If header (412 when no list holds); return the lock tokens it submits that
    belong to the caller (a token of another principal counts as not submitted)."""
    header = request.headers.get("If")
    if not header:
        return set()
    lists = parse_if(header)
    states: dict[str | None, tuple[str | None, set[str]]] = {}
    satisfied = False
    for entry in lists:
        if entry.resource not in states:
            try:
                resource_target = await _list_target(request, target, entry.resource)
                states[entry.resource] = await _resource_state(request, resource_target)
            except OcisError:
                states[entry.resource] = (None, set())
        etag, tokens = states[entry.resource]
        if all(_holds(cond, etag, tokens) for cond in entry.conditions):
            satisfied = True
    if not satisfied:
        raise DavError(412, "The If header precondition failed")
    submitted = {v for entry in lists for _, kind, v in entry.conditions
                 if kind == "token" and v != NO_LOCK}
    return await _own_tokens(request, submitted)


def _holds(cond: tuple[bool, str, str], etag: str | None, tokens: set[str]) -> bool:
    negate, kind, value = cond
    if kind == "token":
        result = value in tokens
    else:
        result = etag is not None and _strip_weak(value) == _strip_weak(etag)
    return result != negate


async def _own_tokens(request: web.Request, tokens: set[str]) -> set[str]:
    user = user_of(request)
    storage = storage_of(request)
    own = set()
    for token in tokens:
        if not _OUR_TOKEN.fullmatch(token):
            continue
        try:
            lock = await storage.get_lock(token)
        except NotFound:
            continue
        if lock.principal_id == user.id:
            own.add(token)
    return own


async def check_locks(request: web.Request, target: DavTarget, *, recursive: bool = False,
                      membership: bool = False, exists: bool = True) -> None:
    """Raise 423 when a lock on the resource (its subtree when `recursive`, its parent's
    membership when `membership`) was not submitted. Evaluates the If header once per request."""
    submitted = request.get(SUBMITTED_KEY)
    if submitted is None:
        submitted = await evaluate_if(request, await request_target(request))
        request[SUBMITTED_KEY] = submitted
    storage = storage_of(request)
    space_id, path = target.space_id, tuple(target.path)
    locks: list[LockRecord] = []
    # The parent's covering locks include every depth-infinity lock above the resource; its
    # own locks are in locks_below (recursive), and a missing resource has none (storage drops
    # locks with the resource). So one query fewer per write in the common cases.
    if not (membership and path and (recursive or not exists)):
        locks += await storage.locks_covering(space_id, path)
    if recursive:
        locks += await storage.locks_below(space_id, path)
    if membership and path:
        locks += await storage.locks_covering(space_id, path[:-1])
    blocking = _blocking(locks, submitted)
    if blocking is not None:
        href = target.href_of(blocking.path, is_dir=blocking.path != path) or target.raw
        raise DavError(423, "The resource is locked",
                       f"<d:lock-token-submitted><d:href>{esc(href)}</d:href>"
                       "</d:lock-token-submitted>")


def _blocking(locks: list[LockRecord], submitted: set[str]) -> LockRecord | None:
    """The first lock the submitted tokens do not satisfy; one token of a set of shared locks
    on the same root is enough."""
    by_root: dict[tuple[tuple[str, ...], bool], list[LockRecord]] = {}
    for lock in locks:
        by_root.setdefault((lock.path, lock.exclusive), []).append(lock)
    for group in by_root.values():
        if not any(lock.token in submitted for lock in group):
            return group[0]
    return None


# --- LOCK / UNLOCK --------------------------------------------------------------------------

async def owner_names(request: web.Request, locks: list[LockRecord]) -> dict[str, str]:
    """The display names of the users holding `locks` (oCIS's `oc:ownername`), by user id; a user
    who no longer exists has none."""
    users = request.app[CONTEXT_KEY].users
    names: dict[str, str] = {}
    for principal_id in {lock.principal_id for lock in locks}:
        try:
            user = await users.get(principal_id)
        except OcisError:
            continue
        names[principal_id] = user.display_name or user.username
    return names


def activelock_xml(lock: LockRecord, root_href: str, owner_name: str = "") -> str:
    timeout = ("Infinite" if lock.expires >= NEVER
               else f"Second-{max(0, math.ceil(lock.expires - time.time()))}")
    scope = "exclusive" if lock.exclusive else "shared"
    owner = f"<d:owner>{lock.owner_xml}</d:owner>" if lock.owner_xml else ""
    if owner_name:       # oCIS: the locking user's display name (clients show "locked by ...")
        owner += f'<oc:ownername xmlns:oc="http://owncloud.org/ns">{esc(owner_name)}</oc:ownername>'
    return ("<d:activelock><d:locktype><d:write/></d:locktype>"
            f"<d:lockscope><d:{scope}/></d:lockscope>"
            f"<d:depth>{'infinity' if lock.depth_infinity else '0'}</d:depth>{owner}"
            f"<d:timeout>{timeout}</d:timeout>"
            f"<d:locktoken><d:href>{esc(lock.token)}</d:href></d:locktoken>"
            f"<d:lockroot><d:href>{esc(root_href)}</d:href></d:lockroot></d:activelock>")


def lockdiscovery_xml(locks: list[LockRecord], target: DavTarget, path: tuple[str, ...],
                      is_dir: bool, names: dict[str, str]) -> str:
    parts = []
    for lock in locks:
        href = target.href_of(lock.path, is_dir=is_dir if lock.path == path else True)
        parts.append(activelock_xml(lock, href or "", names.get(lock.principal_id, "")))
    return "".join(parts)


SUPPORTEDLOCK_XML = (
    "<d:lockentry><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype>"
    "</d:lockentry><d:lockentry><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/>"
    "</d:locktype></d:lockentry>")


# A lock without expiry (reva: no Timeout header, or `Infinite`) expires at this absolute time: far
# beyond any `Second-N` (N < 2**32, reva's bound), finite so every store keeps it as a number.
NEVER = 1e15
_MAX_SECONDS = 2**32 - 1


def _timeout(request: web.Request) -> float:
    """When a lock taken now expires, from its Timeout header as reva reads it: the first value
    counts; none or `Infinite` never expires; `Second-N` with N < 2**32; anything else 400."""
    value = request.headers.get("Timeout", "").split(",", 1)[0].strip()
    if not value or value == "Infinite":
        return NEVER
    seconds = value.removeprefix("Second-")
    if seconds == value or not seconds.isascii() or not seconds.isdigit() \
            or int(seconds) > _MAX_SECONDS:
        raise BadRequest("invalid Timeout header")
    return time.time() + int(seconds)


async def _lock_response(request: web.Request, lock: LockRecord, target: DavTarget, is_dir: bool,
                         status: int, *, new: bool) -> web.Response:
    names = await owner_names(request, [lock])
    body = XML_DECL + (
        f'<d:prop xmlns:d="DAV:"><d:lockdiscovery>'
        f"{lockdiscovery_xml([lock], target, target.path, is_dir, names)}"
        "</d:lockdiscovery></d:prop>").encode()
    headers = {"Content-Type": CONTENT_TYPE}
    if new:
        headers["Lock-Token"] = f"<{lock.token}>"
    return web.Response(status=status, body=body, headers=headers)


async def handle_lock(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    target.access.require_write()
    body = await read_xml(request, config_of(request))
    if body is None:
        return await _refresh(request, target)
    exclusive, owner = _lockinfo(body)
    depth = request.headers.get("Depth", "infinity").strip().lower()
    if depth not in ("0", "infinity"):
        raise BadRequest("Invalid Depth header value")
    storage = storage_of(request)
    existing = list(await storage.locks_covering(target.space_id, target.path))
    if depth == "infinity":
        existing += await storage.locks_below(target.space_id, target.path)
    if any(lock.exclusive or exclusive for lock in existing):
        href = target.href_of(existing[0].path, is_dir=existing[0].path != target.path) or ""
        raise DavError(423, "The resource is already locked",
                       f"<d:no-conflicting-lock><d:href>{esc(href)}</d:href>"
                       "</d:no-conflicting-lock>")
    node, created = await _lock_target_node(request, target)
    lock = LockRecord(token=f"opaquelocktoken:{uuid.uuid4()}", space_id=target.space_id,
                      path=tuple(target.path), depth_infinity=depth == "infinity",
                      exclusive=exclusive, owner_xml=owner, principal_id=user_of(request).id,
                      expires=_timeout(request))
    await storage.put_lock(lock)
    return await _lock_response(request, lock, target, node.is_dir, 201 if created else 200,
                                new=True)


def _lockinfo(body: Element) -> tuple[bool, str]:
    """(exclusive, owner XML) of a DAV:lockinfo body; only write locks exist."""
    if not is_tag(body, NS_DAV, "lockinfo"):
        raise BadRequest("LOCK body must be a DAV:lockinfo")
    exclusive = body.find("{DAV:}lockscope/{DAV:}exclusive") is not None
    if not exclusive and body.find("{DAV:}lockscope/{DAV:}shared") is None:
        raise BadRequest("missing lockscope")
    if body.find("{DAV:}locktype/{DAV:}write") is None:
        raise BadRequest("only write locks are supported")
    owner_el = body.find("{DAV:}owner")
    return exclusive, inner_xml(owner_el) if owner_el is not None else ""


async def _lock_target_node(request: web.Request, target: DavTarget) -> tuple[Node, bool]:
    """The locked node; an unmapped URL becomes an empty file (RFC 4918 §7.3)."""
    storage = storage_of(request)
    try:
        node = await storage.lookup(target.space_id, target.path)
        # Compatibility with existing locks was checked by the caller; only the If header's
        # own conditions apply to an existing resource.
        await evaluate_if(request, target)
        return node, False
    except NotFound:
        pass
    await check_locks(request, target, membership=True, exists=False)
    result = await storage.upload(target.space_id, target.path, _no_bytes(), length=0)
    return result.node, True


async def _no_bytes() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing: the body of an empty file


async def _refresh(request: web.Request, target: DavTarget) -> web.StreamResponse:
    """LOCK without a body refreshes the lock named in the If header (RFC 4918 §9.10.2)."""
    if "If" not in request.headers:
        raise BadRequest("a lock refresh needs an If header with the lock token")
    submitted = await evaluate_if(request, target)
    storage = storage_of(request)
    for lock in await storage.locks_covering(target.space_id, target.path):
        if lock.token in submitted:
            refreshed = LockRecord(lock.token, lock.space_id, lock.path, lock.depth_infinity,
                                   lock.exclusive, lock.owner_xml, lock.principal_id,
                                   _timeout(request))
            await storage.put_lock(refreshed)
            node = await storage.lookup(target.space_id, target.path)
            return await _lock_response(request, refreshed, target, node.is_dir, 200, new=False)
    raise DavError(412, "No submitted lock token matches a lock on this resource",
                   "<d:lock-token-matches-request-uri/>")


async def handle_unlock(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    token = request.headers.get("Lock-Token", "").strip()
    if len(token) > 2 and token[0] == "<" and token[-1] == ">":
        token = token[1:-1]      # a Coded-URL (RFC 4918); reva also takes the bare token, which
    if not token or "<" in token or ">" in token:   # the `webdav` npm package sends
        raise BadRequest("missing or malformed Lock-Token header")
    storage = storage_of(request)
    lock: LockRecord | None = None
    if _OUR_TOKEN.fullmatch(token):
        try:
            lock = await storage.get_lock(token)
        except NotFound:
            pass
    if lock is None or not covers(lock, target.space_id, target.path):
        raise DavError(409, "The lock token does not match the resource",
                       "<d:lock-token-matches-request-uri/>")
    if lock.principal_id != user_of(request).id:
        raise PermissionDenied("the lock belongs to another user")
    await storage.remove_lock(lock.token)
    return web.Response(status=204)
