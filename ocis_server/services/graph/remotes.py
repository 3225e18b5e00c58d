"""Remote spaces a user registered by URL (`ocis remote add`; the OpenID path of federation,
docs/federation.md), this server's own API (oCIS has none):

- `GET /graph/v1.0/me/remotes`: `{"value": [entry...]}`, the caller's entries only;
- `POST /graph/v1.0/me/remotes` `{"url": ..., "name": ...?}`: 201 with the entry; 400 for a bad
  URL or name, or a URL on no listed provider; 409 for a name or URL already registered;
- `DELETE /graph/v1.0/me/remotes/{id}`: 204; 404 for an unknown or another user's entry.

Each entry is also a drive of `me/drives` (v1.0 and v1beta1), `driveType` `remote`, whose
`root.webDavUrl` is the registered URL on the other server: the client opens it with the user's
own token. This server never contacts it, so it cannot say whether it is reachable.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import BadRequest, ServiceUnavailable
from ocis_server.identity import User
from ocis_server.sharing import remote_links
from ocis_server.storage import RemoteLink

from .config import CONTEXT_KEY
from .drives import iso_time, list_my_drives, read_body
from .me import principal

log = logging.getLogger("ocis.graph")
REMOTE_STORAGE_ID = "d8c4b9a6-5e3f-4c1a-9b7d-2f0e6a1c3b5d"   # this server's own, for drive ids


def drive_id(link: RemoteLink) -> str:
    return f"{REMOTE_STORAGE_ID}${link.id}"


def entry_json(link: RemoteLink) -> dict[str, Any]:
    return {"id": link.id, "driveId": drive_id(link), "name": link.name, "url": link.url,
            "provider": link.provider, "createdDateTime": iso_time(link.ctime)}


def remote_drive(link: RemoteLink, user: User) -> dict[str, Any]:
    """The entry as a drive of the caller's registry."""
    did = drive_id(link)
    return {
        "id": did, "name": link.name, "driveType": "remote", "driveAlias": f"remote/{link.id}",
        "description": "", "lastModifiedDateTime": iso_time(link.ctime), "webUrl": link.url,
        "owner": {"user": {"id": link.provider, "displayName": link.provider,
                           "@libre.graph.userType": "Federated"}},
        "root": {"id": did, "webDavUrl": link.url},
        "@ocis.remote": {"id": link.id, "url": link.url, "provider": link.provider,
                         "registeredBy": user.id},
    }


async def link_drives(request: web.Request, user: User,
                      clauses: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The caller's registered remote spaces as drives, filtered by `$filter`'s equalities."""
    ctx = request.app[CONTEXT_KEY]
    try:
        links = await remote_links.listed(ctx, user)
    except ServiceUnavailable as exc:     # the primary storage provider is away: the spaces
        log.warning("me/drives without the registered remotes: %s", exc)   # are still listed
        return []
    found = [remote_drive(link, user) for link in links]
    return [d for d in found if all(str(d.get(f)) == v for f, v in clauses)]


async def my_drives_v1(request: web.Request) -> web.Response:
    """`GET /v1.0/me/drives`: the spaces and the registered remote spaces."""
    user = principal(request)
    return await list_my_drives(request, lambda clauses: link_drives(request, user, clauses))


async def list_remotes(request: web.Request) -> web.Response:
    user = principal(request)
    found = await remote_links.listed(request.app[CONTEXT_KEY], user)
    return web.json_response({"value": [entry_json(link) for link in found]})


async def add_remote(request: web.Request) -> web.Response:
    user = principal(request)
    body = await read_body(request)
    url, name = body.get("url"), body.get("name")
    if not isinstance(url, str) or not (name is None or isinstance(name, str)):
        raise BadRequest("'url' (a string) is required; 'name' is a string if given")
    ctx = request.app[CONTEXT_KEY]
    link = await remote_links.add(ctx, ctx.ocm, user, url, name)
    return web.json_response(entry_json(link), status=201)


async def delete_remote(request: web.Request) -> web.Response:
    user = principal(request)
    await remote_links.remove(request.app[CONTEXT_KEY], user, request.match_info["remote_id"])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1.0/me/remotes", list_remotes)
    app.router.add_post("/v1.0/me/remotes", add_remote)
    app.router.add_delete("/v1.0/me/remotes/{remote_id}", delete_remote)
