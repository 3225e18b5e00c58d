"""Two real instances speak OCM to each other: zurich sends `POST /ocm/shares` to paris through
the one outbound client (discovery first, then the `endPoint` it names), and paris records the
share pending for Marie. Refusals come back as clear errors: an unlisted recipient domain names
the providers file, paris's 400 names the bad field, its 403 says zurich is not trusted there."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocis_server.runtime import EmbeddedServer, make_test_config
from ocis_server.services.ocm.client import PeerError, PeerRefused
from ocis_server.services.ocm.config import OcmConfig
from ocis_server.services.ocm.outgoing import NewShare, send_share, send_unshared, share_client
from ocis_server.services.ocm.providers import Providers, UnknownProvider
from ocis_server.sharing import federated
import ocm_peers
from ocm_peers import providers_file, write_providers

Pair = tuple[EmbeddedServer, EmbeddedServer, Path, Path]


@pytest.fixture
async def zurich_and_paris(tmp_path: Path) -> AsyncIterator[Pair]:
    async with ocm_peers.zurich_and_paris(tmp_path, OCM_REQUIRE_INVITE="false") as (zurich, paris):
        yield zurich, paris, providers_file(tmp_path, "zurich"), providers_file(tmp_path, "paris")


def physics(zurich: EmbeddedServer, **changes: object) -> NewShare:
    share = NewShare(share_with="marie@paris.test", name="Physics", provider_id="share-1",
                     owner="einstein@zurich.test", sender="einstein@zurich.test",
                     owner_display_name="Albert Einstein", sender_display_name="Albert Einstein",
                     resource_type="folder", permissions=("read", "write"), secret="s3cr3t",
                     uri=f"{zurich.url}/dav/ocm/share-1")
    return dataclasses.replace(share, **changes)  # type: ignore[arg-type]


async def test_zurich_shares_with_marie_at_paris(zurich_and_paris: Pair) -> None:
    zurich, paris, zurich_file, paris_file = zurich_and_paris
    config = OcmConfig.from_context(zurich.ctx)
    assert config.providers_file == zurich_file and config.share_insecure
    client = share_client(config, Providers(config.providers_file))
    try:
        assert await send_share(client, physics(zurich)) == ""     # paris keeps her name private
        marie = await paris.ctx.users.get_by_name("marie")
        [share] = await federated.received(paris.ctx, marie)
        assert (share.state, share.provider, share.provider_id) == ("pending", "zurich.test",
                                                                    "share-1")
        assert share.uri == f"{zurich.url}/dav/ocm/share-1" and share.secret == "s3cr3t"
        assert share.permissions == ("read", "write") and share.owner == "einstein@zurich.test"

        with pytest.raises(UnknownProvider, match="'lyon.test' is not a trusted OCM provider "
                                                  r"\(not listed in ocmproviders.json\)"):
            await send_share(client, physics(zurich, share_with="marie@lyon.test"))
        with pytest.raises(PeerError, match=r"paris.test refused the share \(400\): "
                                            r"INVALID_PARAMETERS.*\(shareWith: NOT_FOUND\)"):
            await send_share(client, physics(zurich, share_with="nobody@paris.test",
                                             provider_id="share-2"))
        with pytest.raises(PeerError, match=r"\(400\).*protocol.webdav.uri: "
                                            "NOT_AT_THE_SENDING_PROVIDER"):
            await send_share(client, physics(zurich, provider_id="share-3",
                                             uri=f"{paris.url}/dav/ocm/share-3"))
        with pytest.raises(PeerError, match=r"\(409\): SHARE_ALREADY_EXISTS"):
            await send_share(client, physics(zurich))
        # Einstein removes the share: zurich notifies paris, the entry is gone from Marie's list.
        await send_unshared(client, "paris.test", "share-1", "s3cr3t", "folder")
        assert await federated.received(paris.ctx, marie) == []
        with pytest.raises(PeerError, match=r"paris.test refused the notification \(403\): "
                                            "NOT_AUTHORIZED"):
            await send_unshared(client, "paris.test", "share-1", "s3cr3t")
        assert await send_share(client, physics(zurich)) == ""
        # paris stops trusting zurich: its answer is 403, and zurich says so.
        write_providers(paris_file, {"lyon.test": "https://lyon.test"})
        with pytest.raises(PeerError, match=r"paris.test refused the share \(403\): "
                                            "PROVIDER_NOT_TRUSTED"):
            await send_share(client, physics(zurich, provider_id="share-4"))
        assert len(await federated.received(paris.ctx, marie)) == 1
    finally:
        await client.close()


async def test_plain_http_needs_the_insecure_setting(zurich_and_paris: Pair, tmp_path: Path) -> None:
    zurich, _, zurich_file, _ = zurich_and_paris
    strict = make_test_config(tmp_path / "strict", OCIS_ENABLE_OCM="true", OCM_REQUIRE_INVITE="false",
                              OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(zurich_file))
    config = OcmConfig.from_context(dataclasses.replace(zurich.ctx, config=strict))
    assert not config.share_insecure
    client = share_client(config, Providers(config.providers_file))
    try:
        with pytest.raises(PeerRefused, match="plain http .* refused"):
            await send_share(client, physics(zurich))
    finally:
        await client.close()
