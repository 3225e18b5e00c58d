"""The sharer's side of a federated share, over HTTP between two real instances: Einstein at
zurich shares /Physics with marie@paris.test through the sharing layer; paris records the offer
(URI and secret); zurich's `/dav/ocm/<id>/` serves the shared tree to whoever holds that secret,
scoped and limited by the role exactly like a public link. Hostile requests: no secret, a wrong
one, another share's, a revoked one, `..` and `%2e%2e`, the neighbour folder, writes of a
viewer, deleting the shared folder itself, a MOVE out of the share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists, BadRequest, PermissionDenied
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocis_server.services.ocm.client import PeerError
from ocis_server.sharing import federated, federated_sent, rules
from ocis_server.storage import OcmShare, RemoteShare
from ocm_peers import zurich_and_paris

Pair = tuple[EmbeddedServer, EmbeddedServer]
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with zurich_and_paris(tmp_path, OCM_REQUIRE_INVITE="false") as both:
        yield both


async def dav(method: str, url: str, *, auth: aiohttp.BasicAuth | None = None,
              headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.request(
            method, url, auth=auth, headers=headers or {}, data=data) as resp:
        return resp.status, await resp.text()


async def raw(server: EmbeddedServer, method: str, target: str, secret: str) -> int:
    """A request whose target goes out byte for byte (no client cleans `..` or `%2e%2e`)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                     f"Authorization: Bearer {secret}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(status_line.split()[1])


async def einstein_files(zurich: EmbeddedServer) -> None:
    base = f"{zurich.url}/remote.php/webdav"
    for folder in ("Physics", "Physics/sub", "Private"):
        assert (await dav("MKCOL", f"{base}/{folder}", auth=EINSTEIN))[0] == 201
    for name, body in (("Physics/a.txt", b"E=mc2"), ("Private/secret.txt", b"diary"),
                       ("notes.txt", b"notes"), ("Physics/sub/b.txt", b"bee")):
        assert (await dav("PUT", f"{base}/{name}", auth=EINSTEIN, data=body))[0] in (201, 204)


async def share(zurich: EmbeddedServer, path: str, role: roles.Role,
                address: str = "marie@paris.test") -> OcmShare:
    ctx = zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    node = await ctx.storage.lookup(einstein.id, tuple(path.strip("/").split("/")))
    access = await rules.access_to(ctx, einstein, node)
    assert ctx.ocm is not None
    made = await federated_sent.create(ctx, einstein, node, access, role, address, ctx.ocm)
    return made.value


async def offer_at_paris(paris: EmbeddedServer, provider_id: str) -> RemoteShare:
    marie = await paris.ctx.users.get_by_name("marie")
    return next(s for s in await federated.received(paris.ctx, marie)
                if s.provider_id == provider_id)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_marie_reads_the_shared_folder_with_the_secret_paris_received(pair: Pair) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    sent = await share(zurich, "/Physics", roles.VIEWER)
    got = await offer_at_paris(paris, sent.id)
    assert got.uri == f"{zurich.url}/dav/ocm/{sent.id}" and got.secret == sent.secret
    assert got.permissions == ("read",) and got.resource_type == "folder"
    assert (got.owner, got.sender, got.name) == ("einstein@zurich.test",) * 2 + ("Physics",)
    assert len(sent.secret) >= 40 and sent.grantee == "marie@paris.test"

    status, body = await dav("PROPFIND", got.uri + "/", headers={**bearer(got.secret),
                                                                 "Depth": "1"})
    assert status == 207 and "a.txt" in body and "sub/" in body
    assert "secret.txt" not in body and "Private" not in body
    assert f"/dav/ocm/{sent.id}/a.txt" in body
    assert await dav("GET", got.uri + "/a.txt", headers=bearer(got.secret)) == (200, "E=mc2")
    assert await dav("GET", got.uri + "/sub/b.txt", headers=bearer(got.secret)) == (200, "bee")
    # The same through /remote.php, and with the secret in Basic (user name or password).
    remote = got.uri.replace("/dav/ocm/", "/remote.php/dav/ocm/")
    for auth in (aiohttp.BasicAuth(got.secret, ""), aiohttp.BasicAuth("marie", got.secret)):
        assert await dav("GET", remote + "/a.txt", auth=auth) == (200, "E=mc2")
    status, _ = await dav("HEAD", got.uri + "/a.txt", headers=bearer(got.secret))
    assert status == 200

    # A viewer writes nothing: PUT, MKCOL, DELETE, MOVE, COPY, PROPPATCH are 403.
    for method, path, extra in (
            ("PUT", "/a.txt", {}), ("PUT", "/new.txt", {}), ("MKCOL", "/dir", {}),
            ("DELETE", "/a.txt", {}),
            ("MOVE", "/a.txt", {"Destination": got.uri + "/c.txt"}),
            ("COPY", "/a.txt", {"Destination": got.uri + "/c.txt"})):
        status, _ = await dav(method, got.uri + path, headers={**bearer(got.secret), **extra},
                              data=b"x" if method == "PUT" else None)
        assert status == 403, f"{method} {path}: {status}"
    assert await dav("GET", got.uri + "/a.txt", headers=bearer(got.secret)) == (200, "E=mc2")


async def test_hostile_requests_are_refused(pair: Pair) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    sent = await share(zurich, "/Physics", roles.VIEWER)
    other = await share(zurich, "/notes.txt", roles.VIEWER)
    got = await offer_at_paris(paris, sent.id)
    url = got.uri
    # No secret, a wrong one, another share's secret: 401 with a challenge.
    status, _ = await dav("GET", url + "/a.txt")
    assert status == 401
    async with aiohttp.ClientSession() as session, session.get(url + "/a.txt") as resp:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in ("nope", other.secret, got.secret + "x", got.secret[:-1]):
        assert (await dav("GET", url + "/a.txt", headers=bearer(wrong)))[0] == 401, wrong
        assert (await dav("GET", url + "/a.txt", auth=aiohttp.BasicAuth(wrong, "")))[0] == 401
    # A user's own login is not a secret either (and counts as no failed login).
    assert (await dav("GET", url + "/a.txt", auth=EINSTEIN))[0] == 401
    # An unknown share id: 404 whatever the secret.
    assert (await dav("GET", f"{zurich.url}/dav/ocm/nope/a.txt",
                      headers=bearer(got.secret)))[0] == 404
    # Climbing out of the shared tree: `..`, `%2e%2e`, `%2f`, the neighbour folder.
    path = f"/dav/ocm/{sent.id}"
    for target in (f"{path}/../Private/secret.txt", f"{path}/%2e%2e/Private/secret.txt",
                   f"{path}/sub/%2E%2E/%2e%2e/Private/secret.txt", f"{path}/..%2fPrivate",
                   f"{path}/%2e%2e%2fnotes.txt", f"{path}/Private/secret.txt",
                   f"/dav/ocm/{other.id}/../{sent.id}/a.txt"):
        status = await raw(zurich, "GET", target, got.secret)
        assert status in (400, 404), f"GET {target}: {status}"
    # The other share is a file share: only the file itself answers, with its own secret.
    file_url = f"{zurich.url}/dav/ocm/{other.id}"
    assert await dav("GET", file_url, headers=bearer(other.secret)) == (200, "notes")
    assert await dav("GET", file_url + "/notes.txt", headers=bearer(other.secret)) == (200, "notes")
    assert (await dav("GET", file_url + "/a.txt", headers=bearer(other.secret)))[0] == 404
    assert (await dav("GET", file_url, headers=bearer(got.secret)))[0] == 401
    status, body = await dav("PROPFIND", file_url, headers={**bearer(other.secret), "Depth": "1"})
    assert status == 207 and body.count("<d:response>") == 1
    # A MOVE or COPY may not leave the share, nor land in another share.
    for dest in (f"{zurich.url}/remote.php/webdav/Private/x.txt", f"{file_url}/x.txt",
                 "http://elsewhere.test/dav/ocm/x"):
        status, _ = await dav("COPY", url + "/a.txt", headers={**bearer(got.secret),
                                                               "Destination": dest})
        assert status in (403, 502), f"COPY to {dest}: {status}"
    private = await dav("GET", f"{zurich.url}/remote.php/webdav/Private/secret.txt", auth=EINSTEIN)
    assert private == (200, "diary")


async def test_an_editor_syncs_both_ways_and_the_share_root_stays(pair: Pair) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    sent = await share(zurich, "/Physics", roles.EDITOR)
    got = await offer_at_paris(paris, sent.id)
    assert got.permissions == ("read", "write")
    url, auth = got.uri, bearer(got.secret)
    assert (await dav("PUT", url + "/new.txt", headers=auth, data=b"new"))[0] == 201
    assert (await dav("PUT", url + "/a.txt", headers=auth, data=b"E=mc^2"))[0] == 204
    assert (await dav("MKCOL", url + "/dir", headers=auth))[0] == 201
    move = {**auth, "Destination": url + "/dir/moved.txt"}
    assert (await dav("MOVE", url + "/new.txt", headers=move))[0] == 201
    copy = {**auth, "Destination": url + "/dir/copy.txt"}
    assert (await dav("COPY", url + "/a.txt", headers=copy))[0] == 201
    assert (await dav("DELETE", url + "/sub", headers=auth))[0] == 204
    # What Marie wrote is Einstein's, in his tree.
    base = f"{zurich.url}/remote.php/webdav/Physics"
    assert await dav("GET", base + "/dir/moved.txt", auth=EINSTEIN) == (200, "new")
    assert await dav("GET", base + "/a.txt", auth=EINSTEIN) == (200, "E=mc^2")
    # The shared folder itself is never deleted or moved through the share.
    assert (await dav("DELETE", url + "/", headers=auth))[0] == 403
    assert (await dav("MOVE", url, headers={**auth, "Destination": url + "/dir/x"}))[0] == 403
    assert (await dav("PROPFIND", base, auth=EINSTEIN, headers={"Depth": "0"}))[0] == 207


async def test_revocation_and_limits_hold_at_once(pair: Pair) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    ctx = zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    sent = await share(zurich, "/Physics", roles.EDITOR)
    got = await offer_at_paris(paris, sent.id)
    # Nobody grants more than they hold, nor a role federated users cannot get, nor twice.
    node = await ctx.storage.get_node(sent.node_id)
    access = await rules.access_to(ctx, einstein, node)
    assert ctx.ocm is not None
    with pytest.raises(BadRequest, match="not applicable to federated users"):
        await federated_sent.create(ctx, einstein, node, access, roles.UPLOADER,
                                    "marie@paris.test", ctx.ocm)
    with pytest.raises(AlreadyExists):
        await federated_sent.create(ctx, einstein, node, access, roles.VIEWER,
                                    "marie@paris.test", ctx.ocm)
    with pytest.raises(BadRequest, match="'lyon.test' is not a trusted OCM provider"):
        await federated_sent.create(ctx, einstein, node, access, roles.VIEWER,
                                    "marie@lyon.test", ctx.ocm)
    marie_z = await ctx.users.get_by_name("marie")
    with pytest.raises(Exception):      # marie at zurich has no access to Einstein's folder
        await federated_sent.create(ctx, marie_z, node, await rules.access_to(ctx, marie_z, node),
                                    roles.VIEWER, "richard@paris.test", ctx.ocm)
    # paris refuses an unknown recipient: nothing stays recorded at zurich.
    with pytest.raises(PeerError, match="NOT_FOUND"):
        await share(zurich, "/Physics/sub", roles.VIEWER, "nobody@paris.test")
    assert [s.id for s in await federated_sent.managed(ctx, einstein)] == [sent.id]
    # Einstein lowers the role: Marie's next write is refused at once.
    updated = await federated_sent.update(ctx, einstein, sent, None, role=roles.VIEWER)
    assert updated.value.permissions == roles.READ
    assert (await dav("PUT", got.uri + "/a.txt", headers=bearer(got.secret), data=b"x"))[0] == 403
    with pytest.raises(PermissionDenied):
        await federated_sent.update(ctx, marie_z, updated.value, None, role=roles.EDITOR)
    # He removes it: the secret opens nothing any more.
    await federated_sent.delete(ctx, einstein, updated.value, None)
    assert (await dav("GET", got.uri + "/a.txt", headers=bearer(got.secret)))[0] == 404
    assert (await dav("GET", f"{zurich.url}/remote.php/dav/ocm/{sent.id}/a.txt",
                      auth=aiohttp.BasicAuth(got.secret, "")))[0] == 404


async def test_dav_ocm_is_off_without_ocm(tmp_path: Path) -> None:
    async with embedded_server(make_test_config(tmp_path / "plain")) as plain:
        assert plain.ctx.ocm is None
        status, _ = await dav("GET", f"{plain.url}/dav/ocm/x/a.txt", headers=bearer("s"))
        assert status == 404


def test_addresses() -> None:
    assert federated_sent.split_address("marie@Paris.Test.") == ("marie", "paris.test")
    assert federated_sent.split_address("a@b@paris.test") == ("a@b", "paris.test")
    for bad in ("marie", "@paris.test", "marie@", "ma rie@paris.test", "m/x@paris.test",
                "ma\nrie@paris.test", "x" * 400 + "@p.test"):
        with pytest.raises(BadRequest):
            federated_sent.split_address(bad)
    assert federated_sent.ocm_permissions(1) == ("read",)
    assert federated_sent.ocm_permissions(15) == ("read", "write")
    assert federated_sent.ocm_permissions(31) == ("read", "write")


async def test_trashed_or_expired_shares_open_nothing(pair: Pair) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    sent = await share(zurich, "/Physics", roles.VIEWER)
    got = await offer_at_paris(paris, sent.id)
    auth = bearer(got.secret)
    base = f"{zurich.url}/remote.php/webdav"
    # Einstein trashes the folder: the share is gone with it, and back after the restore.
    assert (await dav("DELETE", f"{base}/Physics", auth=EINSTEIN))[0] == 204
    assert (await dav("GET", got.uri + "/a.txt", headers=auth))[0] == 404
    einstein = await zurich.ctx.users.get_by_name("einstein")
    [item] = await zurich.ctx.storage.list_trash(einstein.id)
    await zurich.ctx.storage.restore_trash(einstein.id, item.key, overwrite=False)
    assert await dav("GET", got.uri + "/a.txt", headers=auth) == (200, "E=mc2")
    # The share expires: its secret opens nothing any more.
    await zurich.ctx.storage.update_ocm_share(sent.id, expiration=time.time() - 1)
    assert (await dav("GET", got.uri + "/a.txt", headers=auth))[0] == 404
    await zurich.ctx.storage.update_ocm_share(sent.id, clear_expiration=True)
    assert (await dav("GET", got.uri + "/a.txt", headers=auth))[0] == 200
    # Einstein moves the shared folder: the share follows it (it names the node, not a path).
    move = {"Destination": f"{base}/Renamed"}
    assert (await dav("MOVE", f"{base}/Physics", auth=EINSTEIN, headers=move))[0] == 201
    assert await dav("GET", got.uri + "/a.txt", headers=auth) == (200, "E=mc2")
