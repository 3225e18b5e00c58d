"""The sharing layer (`ocis_server/sharing`) on a real server's storage and user store: every
change returns the events it emits (oCIS event names, with who, which space, node and grant),
and the rules hold the same whichever protocol asks: OCS and Graph give the same answer to an
expiry in the past and to granting more than one holds."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from pathlib import Path

import aiohttp
import pytest
from graph_sharing_helpers import B, Client, invite_body
from kit import headers

from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists, BadRequest, PermissionDenied
from ocis_server.identity import User
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.embed import EmbeddedServer
from ocis_server.sharing import links, members, received, rules, shares
from ocis_server.sharing.shares import Grant


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    async with embedded_server(make_test_config(tmp_path), only=["ocdav", "frontend", "graph"]) as s:
        yield s


async def _user(srv: EmbeddedServer, name: str) -> User:
    return await srv.ctx.users.get_by_name(name)


async def test_share_changes_return_their_events(srv: EmbeddedServer) -> None:
    ctx = srv.ctx
    einstein, marie = await _user(srv, "einstein"), await _user(srv, "marie")
    folder = await ctx.storage.mkdir(einstein.id, ("Docs",))
    access = await rules.access_to(ctx, einstein, folder)
    created = await shares.create(ctx, einstein, folder, access, Grant.of(roles.VIEWER),
                                  [("user", marie.id)], None)
    (share,) = created.value
    (event,) = created.events
    assert (event.kind, event.actor_id, event.space_id, event.node_id, event.subject_id) == \
        ("ShareCreated", einstein.id, einstein.id, folder.id, share.id)
    with pytest.raises(AlreadyExists):
        await shares.create(ctx, einstein, folder, access, Grant.of(roles.VIEWER),
                            [("user", marie.id)], None)

    # the recipient mounts it under a name of their own; that changes their received share
    mounted = await received.mount(ctx, marie, folder.id, "From Einstein")
    assert mounted.value.received.mount_point == "From Einstein"
    assert [e.kind for e in mounted.events] == ["ReceivedShareUpdated"]

    updated = await shares.update(ctx, einstein, share, grant=Grant.of(roles.EDITOR))
    assert updated.value.role_id == roles.EDITOR.id
    assert [(e.kind, e.subject_id) for e in updated.events] == [("ShareUpdated", share.id)]
    # the recipient neither manages it nor may grant more than an editor holds
    with pytest.raises(PermissionDenied):
        await shares.update(ctx, marie, share, grant=Grant.of(roles.VIEWER))
    removed = await shares.delete(ctx, einstein, share)
    assert [(e.kind, e.subject_id) for e in removed.events] == [("ShareRemoved", share.id)]
    assert await ctx.storage.list_shares(node_ids=[folder.id]) == []


async def test_link_changes_and_one_quick_link(srv: EmbeddedServer) -> None:
    ctx = srv.ctx
    einstein = await _user(srv, "einstein")
    folder = await ctx.storage.mkdir(einstein.id, ("Pub",))
    access = await rules.access_to(ctx, einstein, folder)
    quick = await links.create(ctx, einstein, folder, access, quicklink=True)
    assert [(e.kind, e.subject_id, e.node_id) for e in quick.events] == \
        [("LinkCreated", quick.value.id, folder.id)]
    again = await links.create(ctx, einstein, folder, access, link_type="edit", quicklink=True)
    assert again.value.id == quick.value.id and again.events == ()     # nothing changed
    changed = await links.update(ctx, einstein, quick.value, link_type="upload", name=" inbox ")
    assert (changed.value.link_type, changed.value.name) == ("upload", "inbox")
    assert [e.kind for e in changed.events] == ["LinkUpdated"]
    with pytest.raises(BadRequest):
        await links.update(ctx, einstein, quick.value)                 # nothing to change
    gone = await links.delete(ctx, einstein, quick.value)
    assert [e.kind for e in gone.events] == ["LinkRemoved"]


async def test_membership_changes_return_their_events(srv: EmbeddedServer) -> None:
    ctx = srv.ctx
    katherine, marie = await _user(srv, "katherine"), await _user(srv, "marie")
    space = await ctx.storage.create_space(space_type="project", name="Mars", owner_id=katherine.id,
                                           alias="project/mars")
    await ctx.storage.set_member(space.id, katherine.id, "manager")
    access = await members.space_of(ctx, katherine, space.id)
    added = await members.add(ctx, katherine, access, roles.SPACE_VIEWER, [marie.id], None)
    assert [(e.kind, e.subject_id, e.node_id) for e in added.events] == \
        [("SpaceShared", marie.id, space.id)]
    again = await members.add(ctx, katherine, access, roles.SPACE_EDITOR, [marie.id], None)
    assert [e.kind for e in again.events] == ["SpaceShareUpdated"]
    soon = time.time() + 3600
    updated = await members.update(ctx, katherine, access, marie.id, set_expiry=True, expires=soon)
    assert (updated.value.role, updated.value.expires) == ("editor", soon)
    # the member may not change members; a file role is no space role
    with pytest.raises(PermissionDenied):
        await members.remove(ctx, marie, await members.space_of(ctx, marie, space.id), katherine.id)
    with pytest.raises(BadRequest):
        await members.add(ctx, katherine, access, roles.EDITOR, [marie.id], None)
    removed = await members.remove(ctx, katherine, access, marie.id)
    assert [(e.kind, e.subject_id) for e in removed.events] == [("SpaceUnshared", marie.id)]


@pytest.fixture
async def client(srv: EmbeddedServer) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        c = Client(session, srv.url)
        for user in ("einstein", "marie"):
            status, me = await c.call("GET", user, "/graph/v1.0/me")
            assert status == 200
            c.ids[user] = me["id"]
        yield c


async def _ocs(client: Client, user: str, **form: str) -> tuple[int, dict[str, Any]]:
    """POST /ocs/v2.php/.../shares as `user` with a form body."""
    url = client.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares"
    async with client.session.post(url, data=form, params={"format": "json"},
                                   headers=headers(user)) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_ocs_and_graph_answer_alike(client: Client) -> None:
    """The same rule behind both protocols: a past expiry is 400, more than one holds is 403."""
    assert (await client.dav("MKCOL", "einstein", "/remote.php/webdav/Same")).status == 201
    item = await client.item_id("einstein", "/Same")
    drive = item.split("!")[0]
    past_iso = datetime(2001, 1, 1, tzinfo=UTC).isoformat()
    status, _ = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                  invite_body(client.ids["marie"], roles.VIEWER,
                                              expirationDateTime=past_iso))
    assert status == 400
    status, _ = await _ocs(client, "einstein", path="/Same", shareType="0",
                           shareWith="marie", permissions="1", expireDate="2001-01-01")
    assert status == 400
    status, _ = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/createLink",
                                  {"type": "view", "expirationDateTime": past_iso})
    assert status == 400
    status, _ = await _ocs(client, "einstein", path="/Same", shareType="3",
                           expireDate="2001-01-01")
    assert status == 400

    # marie receives it as viewer: she may share it on with nobody, by either protocol
    status, _ = await _ocs(client, "einstein", path="/Same", shareType="0",
                           shareWith="marie", permissions="1")
    assert status == 200
    status, _ = await client.call("POST", "marie", f"{B}/drives/{drive}/items/{item}/invite",
                                  invite_body(client.ids["einstein"], roles.VIEWER))
    assert status == 403
    status, _ = await client.call("POST", "marie", f"{B}/drives/{drive}/items/{item}/createLink",
                                  {"type": "view"})
    assert status == 403
