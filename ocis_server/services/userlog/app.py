"""The `userlog` aiohttp application: GET lists the caller's notifications, DELETE (body
`{"ids": [...]}`) removes some; a consumer of the event bus (group "userlog") writes them into the
store (store.py: SQLite, or PostgreSQL with OCIS_DATABASE_URL). With several front nodes on NATS
the group is shared, so each notification is written once, by one node; the `SendSSE` it
publishes reaches every node's sse service (per-node groups), which tells its own clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web

from ocis_server.domain import settings as usersettings
from ocis_server.domain.errors import BadRequest, NotFound, ServiceUnavailable, Unauthenticated
from ocis_server.events import Event
from ocis_server.events.event import PROCESS, SEND_SSE
from ocis_server.services.context import ServiceContext

from .errors import error_middleware
from .log import TEMPLATES, compose, plain
from .store import NotificationStore, open_store

log = logging.getLogger("ocis.userlog")
LOG_KEY = web.AppKey("userlog_log", NotificationStore)
CTX_KEY = web.AppKey("userlog_ctx", ServiceContext)
TASK_KEY = web.AppKey("userlog_task", asyncio.Task[None])


def create_app(ctx: ServiceContext,
               mount: str = "/ocs/v2.php/apps/notifications/api/v1/notifications"
               ) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CTX_KEY] = ctx
    for path in ("", "/"):
        app.router.add_get(path, list_notifications)
        app.router.add_delete(path, delete_notifications)
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
    return app


def _ocs(data: Any) -> web.Response:
    return web.json_response({"ocs": {"meta": {"status": "ok", "statuscode": 200,
                                               "message": ""}, "data": data}})


def _user_id(request: web.Request) -> str:
    user = request.get("principal")
    if user is None:
        raise Unauthenticated("authentication required")
    return str(user.id)


async def list_notifications(request: web.Request) -> web.Response:
    return _ocs(await request.app[LOG_KEY].of(_user_id(request)))


async def delete_notifications(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest('expected {"ids": ["<notification id>", ...]}')
    await request.app[LOG_KEY].delete(user_id, ids)
    return _ocs(None)


async def _start(app: web.Application) -> None:
    ctx = app[CTX_KEY]
    app[LOG_KEY] = await open_store(ctx.config.base_data_path, ctx.config.database_url)
    app[TASK_KEY] = asyncio.create_task(consume(app[CTX_KEY], app[LOG_KEY]), name="userlog")


async def _stop(app: web.Application) -> None:
    task = app.get(TASK_KEY)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    store = app.get(LOG_KEY)
    if store is not None:
        await store.close()


async def consume(ctx: ServiceContext, notes: NotificationStore) -> None:
    consumer = ctx.events.consume("userlog", frozenset(TEMPLATES))
    try:
        while True:
            delivery = await consumer.fetch()
            if delivery is None:
                continue
            try:
                await _recorded(ctx, notes, delivery.event)
            except Exception:          # one event we cannot describe is logged, not fatal
                log.exception("no notification for event %s (%s)", delivery.seq,
                              delivery.event.type)
            consumer.ack(delivery.seq)
    finally:
        consumer.close()


# The per-user option that turns an event's in-app notification off (oCIS userlog `filter.go`:
# event type -> profile setting; the `in-app` key of its collection value, on when never set).
_IN_APP_SETTING = {"ShareCreated": "event-share-created-options",
                   "ShareRemoved": "event-share-removed-options",
                   "SpaceShared": "event-space-shared-options",
                   "SpaceUnshared": "event-space-unshared-options",
                   "OCMCoreShareCreated": "event-share-created-options"}


async def wants_in_app(ctx: ServiceContext, user_id: str, event_type: str) -> bool:
    """Whether the user keeps in-app notifications of this event type (settings service)."""
    name = _IN_APP_SETTING.get(event_type)
    if name is None:
        return True
    stored = (await ctx.storage.setting_values(user_id)).get(
        usersettings.SETTINGS_BY_NAME[name].id)
    if stored is None:
        return True
    return bool(usersettings.plain(json.loads(stored)).get("in-app", True))


async def _recorded(ctx: ServiceContext, notes: NotificationStore, event: Event) -> None:
    """`record`, tried again while the store is away (PostgreSQL restarting): the event is
    acknowledged once its notifications are kept, so none is lost meanwhile."""
    pause = 0.5
    while True:
        try:
            await record(ctx, notes, event)
            return
        except ServiceUnavailable:
            log.warning("userlog: the store is away; event %s kept, tried again in %.1f s",
                        event.type, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


async def _recipients(ctx: ServiceContext, event: Event) -> list[str]:
    """The user, or the members of the group, the change concerns (never who made it), who
    have not turned this event's in-app notifications off."""
    principal = event.grantee_group_id or event.grantee_user_id
    try:
        ids = [u.id for u in await ctx.users.members(principal)]
    except NotFound:
        ids = [principal]
    return [i for i in ids if i and i != event.executant
            and await wants_in_app(ctx, i, event.type)]


async def _federated(ctx: ServiceContext, notes: NotificationStore, event: Event) -> None:
    """A federated share waiting for its recipient (only them): the sharer is a remote address,
    every name comes from the other server and is shown as plain text (`plain`)."""
    share = await ctx.storage.get_remote_share(event.share_id)
    if share.user_id != event.grantee_user_id or share.state != "pending":
        return
    if not await wants_in_app(ctx, share.user_id, event.type):
        return
    sender = plain(share.sender)
    shown = plain(share.sender_display_name)
    user = {"id": sender, "name": sender,
            "displayname": f"{shown} ({sender})" if shown and shown != sender else sender}
    resource = {"id": share.id, "name": plain(share.name) or share.provider_id}
    await _add(ctx, notes, share.user_id,
               compose(event.type, object_id=share.id, object_type="share", user=user,
                       username=sender, resource=resource))


async def _add(ctx: ServiceContext, notes: NotificationStore, user_id: str,
               note: dict[str, Any]) -> None:
    """Keep the notification and tell the user's clients at once (oCIS: SendSSE
    `userlog-notification` with the notification as body)."""
    await notes.add(user_id, note)
    # One store for all nodes (PostgreSQL): written once, every node's clients are told (no
    # origin). Else each node writes its own and tells its own clients (event.py SEND_SSE).
    origin = "" if ctx.config.database_url else PROCESS
    ctx.events.publish([Event(SEND_SSE, user_id=user_id, name="userlog-notification",
                              message=json.dumps(note), origin=origin)])


async def record(ctx: ServiceContext, notes: NotificationStore, event: Event) -> None:
    if event.type == "OCMCoreShareCreated":
        await _federated(ctx, notes, event)
        return
    recipients = await _recipients(ctx, event)
    if not recipients:
        return
    actor = await ctx.users.get(event.executant)
    user = {"id": actor.id, "name": actor.username, "displayname": actor.display_name}
    space_uuid = event.space_id.partition("$")[2]
    resource = space = None
    if event.type.startswith("Space"):
        info = await ctx.storage.space_info(space_uuid)
        space = {"id": event.space_id, "name": info.name}
        object_id, object_type = event.space_id, "storagespace"
    else:
        node = await ctx.storage.get_node(event.item_id.rpartition("!")[2])
        resource = {"id": event.item_id, "name": node.name}
        object_id, object_type = event.share_id, "share"
    for user_id in recipients:
        await _add(ctx, notes, user_id,
                   compose(event.type, object_id=object_id, object_type=object_type, user=user,
                           username=actor.username, resource=resource, space=space))
