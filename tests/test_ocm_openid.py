"""The OpenID path of federation: zurich trusts paris's IdP (OCIS_OIDC_TRUSTED_ISSUERS) and lists
paris.test in its providers file at the issuer's origin. Marie signs in at paris; her paris
access token opens, at zurich, the folder Einstein shared with marie@paris.test, at
`/dav/spaces/<storage>$<space>!<node>/...`, with the share's role; nothing else of Einstein's,
and nobody else's token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from test_oidc_trust import login_at

from ocis_server.domain import roles
from ocis_server.domain.ids import ResourceId
from ocis_server.runtime import EmbeddedServer
from ocis_server.sharing import federated_sent, rules
from ocm_peers import call, write_providers, zurich_trusting_paris

Pair = tuple[EmbeddedServer, EmbeddedServer]


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with zurich_trusting_paris(tmp_path) as both:
        yield both


async def dav(server: EmbeddedServer, method: str, path: str, token: str,
              data: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.request(
            method, server.url + path, data=data,
            headers={"Authorization": f"Bearer {token}", **headers}) as resp:
        return resp.status, await resp.read()


async def rid(zurich: EmbeddedServer, *path: str) -> str:
    einstein = await zurich.ctx.users.get_by_name("einstein")
    node = await zurich.ctx.storage.lookup(einstein.id, path)
    return str(ResourceId(zurich.ctx.storage.storage_id, node.space_id, node.id))


async def test_marie_opens_the_shared_folder_with_her_paris_token(pair: Pair) -> None:
    zurich, paris = pair
    for folder in ("Physics", "Physics/sub", "Private"):
        assert (await call(zurich, "MKCOL", f"/remote.php/webdav/{folder}", "einstein"))[0] == 201
    for name in ("Physics/a.txt", "Private/secret.txt", "Physics/sub/b.txt"):
        assert (await call(zurich, "PUT", f"/remote.php/webdav/{name}", "einstein",
                           data=name.encode()))[0] == 201
    ctx = zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    node = await ctx.storage.lookup(einstein.id, ("Physics",))
    assert ctx.ocm is not None
    made = await federated_sent.create(ctx, einstein, node, await rules.access_to(ctx, einstein, node),
                                       roles.EDITOR, "marie@paris.test", ctx.ocm)
    physics, private = await rid(zurich, "Physics"), await rid(zurich, "Private")
    marie = (await login_at(paris, "marie", "radioactivity"))["access_token"]
    richard = (await login_at(paris, "richard", "superfluidity"))["access_token"]
    base = f"/dav/spaces/{physics}"

    status, body = await dav(zurich, "PROPFIND", base, marie, Depth="1")
    assert status == 207 and b"a.txt" in body and b"sub" in body and b"secret" not in body
    assert await dav(zurich, "GET", f"{base}/a.txt", marie) == (200, b"Physics/a.txt")
    assert await dav(zurich, "GET", f"{base}/sub/b.txt", marie) == (200, b"Physics/sub/b.txt")
    status, _ = await dav(zurich, "PUT", f"{base}/from-paris.txt", marie, data=b"hello")
    assert status == 201
    assert (await call(zurich, "GET", "/remote.php/webdav/Physics/from-paris.txt",
                       "einstein")) == (200, "hello")
    # Not the shared folder itself, nothing beside it, nobody else's token.
    assert (await dav(zurich, "DELETE", base, marie))[0] == 403
    assert (await dav(zurich, "GET", f"/dav/spaces/{private}/secret.txt", marie))[0] == 404
    assert (await dav(zurich, "GET", f"{base}/../{private.split('!')[0]}", marie))[0] in (400, 404)
    assert (await dav(zurich, "GET", f"{base}/%2e%2e/Private/secret.txt", marie))[0] in (400, 404)
    space = physics.split("!")[0]
    assert (await dav(zurich, "GET", f"/dav/spaces/{space}/Private/secret.txt", marie))[0] == 404
    assert (await dav(zurich, "PROPFIND", f"/dav/spaces/{space}", marie, Depth="1"))[0] == 404
    status, _ = await dav(zurich, "MOVE", f"{base}/a.txt", marie,
                         Destination=f"{zurich.url}/dav/spaces/{private}/a.txt")
    assert status in (403, 404, 502)
    assert (await dav(zurich, "GET", f"{base}/a.txt", richard))[0] == 404

    # The providers file decides who paris's issuer speaks for: delisted, her token opens nothing.
    providers = Path(zurich.config.ocm_providers_file)
    write_providers(providers, {"paris.test": "https://cloud.paris.test"})
    assert (await dav(zurich, "GET", f"{base}/a.txt", marie))[0] == 404
    write_providers(providers, {"paris.test": paris.url})
    assert (await dav(zurich, "GET", f"{base}/a.txt", marie))[0] == 200

    # A viewer now: her writes are refused at once; removed: nothing is served.
    await federated_sent.update(ctx, einstein, made.value, None, role=roles.VIEWER)
    assert (await dav(zurich, "PUT", f"{base}/again.txt", marie, data=b"x"))[0] == 403
    assert (await dav(zurich, "GET", f"{base}/a.txt", marie))[0] == 200
    current = await ctx.storage.get_ocm_share(made.value.id)
    await federated_sent.delete(ctx, einstein, current, None)
    assert (await dav(zurich, "GET", f"{base}/a.txt", marie))[0] == 404
