"""OCM_REQUIRE_INVITE (default on, as oCIS always requires it): a federated share needs an
accepted invitation between sharer and recipient. zurich refuses to send to someone who is not
one of Einstein's contacts, and paris refuses a share whose sender is not one of Marie's
(401 `no accepted invite for this sender`, as reva); after the invitation both accept it, and
with the setting off anyone at a listed provider may be shared with."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound, PermissionDenied
from ocis_server.runtime import EmbeddedServer
from ocis_server.services.ocm.client import PeerError
from ocis_server.sharing import federated, federated_sent, rules
from ocm_peers import call, zurich_and_paris

OFF = {"OCM_REQUIRE_INVITE": "false"}


async def share_physics(zurich: EmbeddedServer, address: str) -> str:
    """Einstein shares his folder /Physics with `address` through the sharing layer."""
    ctx = zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    try:
        node = await ctx.storage.lookup(einstein.id, ("Physics",))
    except NotFound:          # made once per instance
        status, _ = await call(zurich, "MKCOL", "/remote.php/webdav/Physics", "einstein")
        assert status == 201
        node = await ctx.storage.lookup(einstein.id, ("Physics",))
    access = await rules.access_to(ctx, einstein, node)
    assert ctx.ocm is not None
    made = await federated_sent.create(ctx, einstein, node, access, roles.VIEWER, address,
                                       ctx.ocm)
    return made.value.id


async def received_by(paris: EmbeddedServer, name: str) -> list[str]:
    user = await paris.ctx.users.get_by_name(name)
    return [s.sender for s in await federated.received(paris.ctx, user)]


async def sent_by_einstein(zurich: EmbeddedServer) -> list[str]:
    einstein = await zurich.ctx.users.get_by_name("einstein")
    return [s.grantee for s in await federated_sent.managed(zurich.ctx, einstein)]


async def invite(zurich: EmbeddedServer, paris: EmbeddedServer, invitee: str) -> None:
    status, made = await call(zurich, "POST", "/sciencemesh/generate-invite", "einstein")
    assert status == 200
    status, body = await call(paris, "POST", "/sciencemesh/accept-invite", invitee,
                              json={"token": made["token"], "providerDomain": "zurich.test"})
    assert status == 200, body


async def test_both_sides_require_an_accepted_invitation(tmp_path: Path) -> None:
    async with zurich_and_paris(tmp_path) as (zurich, paris):
        assert zurich.config.ocm_require_invite and paris.config.ocm_require_invite
        with pytest.raises(PermissionDenied, match="marie@paris.test is not one of einstein's "
                                                   "federated contacts.*ocis invite create"):
            await share_physics(zurich, "marie@paris.test")
        assert await sent_by_einstein(zurich) == [] and await received_by(paris, "marie") == []

        await invite(zurich, paris, "marie")
        await share_physics(zurich, "marie@paris.test")
        assert await received_by(paris, "marie") == ["einstein@zurich.test"]
        # Richard at paris never accepted an invitation: still refused.
        with pytest.raises(PermissionDenied, match="richard@paris.test is not one"):
            await share_physics(zurich, "richard@paris.test")
        # Forgetting the contact ends it for new shares (the existing one stays).
        status, _ = await call(zurich, "DELETE", "/sciencemesh/delete-accepted-user", "einstein",
                               json={"idp": "paris.test", "user_id": "bWFyaWVAcGFyaXMudGVzdA=="})
        assert status == 200
        with pytest.raises(PermissionDenied):
            await share_physics(zurich, "marie@paris.test")
        assert await sent_by_einstein(zurich) == ["marie@paris.test"]


async def test_the_receiver_checks_the_sender(tmp_path: Path) -> None:
    # zurich does not require invitations, paris does: paris refuses, zurich keeps nothing.
    async with zurich_and_paris(tmp_path, zurich_env=OFF) as (zurich, paris):
        with pytest.raises(PeerError, match=r"paris.test refused the share \(401\): no accepted "
                                            "invite for this sender"):
            await share_physics(zurich, "marie@paris.test")
        assert await sent_by_einstein(zurich) == [] and await received_by(paris, "marie") == []
        # Richard accepted an invitation from Einstein: paris takes the share for him.
        await invite(zurich, paris, "richard")
        await share_physics(zurich, "richard@paris.test")
        assert await received_by(paris, "richard") == ["einstein@zurich.test"]
        assert await received_by(paris, "marie") == []


async def test_without_the_setting_anyone_at_a_listed_provider(tmp_path: Path) -> None:
    async with zurich_and_paris(tmp_path, **OFF) as (zurich, paris):
        await share_physics(zurich, "marie@paris.test")
        assert await received_by(paris, "marie") == ["einstein@zurich.test"]
