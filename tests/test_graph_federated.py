"""The sharer's Graph side of federation between two real instances, as oCIS (acceptance
apiOcm/searchFederationUsers, share.feature, listPermissions): with GRAPH_INCLUDE_OCM_SHAREES
Einstein finds Marie at paris by `/users?$search=` once she accepted his invitation (userType
Federated, the provider as issuer); a Graph invite with her id makes a federated share that
paris records for her; it is listed among the item's permissions, its role can change and it can
be removed; federated roles are what the `$filter` offers; she cannot become a space member."""

from __future__ import annotations

import base64
from pathlib import Path

from ocis_server.domain import roles
from ocis_server.domain.ids import ResourceId
from ocis_server.runtime import EmbeddedServer
from ocis_server.sharing import federated
from ocm_peers import call, zurich_and_paris

MARIE = base64.b64encode(b"marie@paris.test").decode()
RICHARD = base64.b64encode(b"richard@paris.test").decode()
FED_FILTER = ("@libre.graph.permissions.roles.allowedValues/rolePermissions/any(p:contains("
              "p/condition, '@Subject.UserType==\"Federated\"'))")


async def folder(zurich: EmbeddedServer, name: str) -> tuple[str, str]:
    """Einstein's new folder `name`: (drive id, item id)."""
    status, _ = await call(zurich, "MKCOL", f"/remote.php/webdav/{name}", "einstein")
    assert status == 201
    einstein = await zurich.ctx.users.get_by_name("einstein")
    node = await zurich.ctx.storage.lookup(einstein.id, (name,))
    rid = ResourceId(zurich.ctx.storage.storage_id, node.space_id, node.id)
    return rid.space, str(rid)


async def marie_at_paris(paris: EmbeddedServer) -> list[tuple[str, str]]:
    marie = await paris.ctx.users.get_by_name("marie")
    return [(s.name, s.sender) for s in await federated.received(paris.ctx, marie)]


def invite(object_id: str, role: roles.Role) -> dict[str, object]:
    return {"recipients": [{"objectId": object_id, "@libre.graph.recipient.type": "user"}],
            "roles": [role.id]}


async def test_find_and_share_with_a_federated_user(tmp_path: Path) -> None:
    async with zurich_and_paris(tmp_path, zurich_env={"GRAPH_INCLUDE_OCM_SHAREES": "true"}) as (
            zurich, paris):
        status, made = await call(zurich, "POST", "/sciencemesh/generate-invite", "einstein")
        status, _ = await call(paris, "POST", "/sciencemesh/accept-invite", "marie",
                               json={"token": made["token"], "providerDomain": "zurich.test"})
        assert status == 200

        status, found = await call(zurich, "GET", "/graph/v1.0/users", "einstein",
                                   params={"$search": "curie"})
        assert status == 200
        fed = [u for u in found["value"] if u.get("userType") == "Federated"]
        assert fed == [{"id": MARIE, "displayName": "Marie Curie", "mail": "marie@example.org",
                        "userType": "Federated",
                        "identities": [{"issuer": "paris.test", "issuerAssignedId": MARIE}]}]
        assert any(u["displayName"] == "Marie Curie" and u["id"] != MARIE
                   for u in found["value"])               # zurich's own Marie, a local user
        status, only = await call(zurich, "GET", "/graph/v1.0/users", "einstein",
                                  params={"$search": "marie", "$filter": "userType eq 'Federated'"})
        assert [u["id"] for u in only["value"]] == [MARIE]
        # Only Einstein's contacts; and not without the setting (paris has it off).
        status, other = await call(zurich, "GET", "/graph/v1.0/users", "richard",
                                   params={"$search": "curie"})
        assert all(u.get("userType") != "Federated" for u in other["value"])
        status, off = await call(paris, "GET", "/graph/v1.0/users", "marie",
                                 params={"$search": "einstein"})
        assert all(u.get("userType") != "Federated" for u in off["value"])

        drive, item = await folder(zurich, "Physics")
        base = f"/graph/v1beta1/drives/{drive}/items/{item}"
        status, offered = await call(zurich, "GET", f"{base}/permissions", "einstein",
                                     params={"$filter": FED_FILTER})
        fed_roles = {r["id"] for r in offered["@libre.graph.permissions.roles.allowedValues"]}
        assert fed_roles == {roles.VIEWER.id, roles.EDITOR.id}

        status, body = await call(zurich, "POST", f"{base}/invite", "einstein",
                                  json=invite(MARIE, roles.EDITOR))
        assert status == 200, body
        [perm] = body["value"]
        assert perm["roles"] == [roles.EDITOR.id]
        assert perm["grantedToV2"] == {"user": {"id": MARIE, "displayName": "Marie Curie",
                                                "@libre.graph.userType": "Federated"}}
        assert perm["invitation"]["invitedBy"]["user"]["displayName"] == "Albert Einstein"
        assert await marie_at_paris(paris) == [("Physics", "einstein@zurich.test")]

        status, listed = await call(zurich, "GET", f"{base}/permissions", "einstein")
        assert [p["id"] for p in listed["value"]] == [perm["id"]]
        status, again = await call(zurich, "POST", f"{base}/invite", "einstein",
                                   json=invite(MARIE, roles.EDITOR))
        assert status == 400
        status, body = await call(zurich, "POST", f"{base}/invite", "einstein",
                                  json=invite(RICHARD, roles.VIEWER))      # not a contact
        assert status == 403 and "invitation" in body["error"]["message"]
        status, body = await call(zurich, "POST", f"{base}/invite", "einstein",
                                  json=invite(MARIE, roles.UPLOADER))
        assert status == 400

        status, patched = await call(zurich, "PATCH", f"{base}/permissions/{perm['id']}",
                                     "einstein", json={"roles": [roles.VIEWER.id]})
        assert status == 200 and patched["roles"] == [roles.VIEWER.id]
        status, _ = await call(zurich, "DELETE", f"{base}/permissions/{perm['id']}", "einstein")
        assert status == 204
        assert (await call(zurich, "GET", f"{base}/permissions", "einstein"))[1]["value"] == []
        assert await marie_at_paris(paris) == []           # paris was told (SHARE_UNSHARED)

        # A federated user cannot become a member of a project space.
        status, space = await call(zurich, "POST", "/graph/v1.0/drives", "admin",
                                   json={"name": "Lab"})
        assert status == 201, space
        status, body = await call(zurich, "POST", f"/graph/v1beta1/drives/{space['id']}/root/invite",
                                  "admin", json=invite(MARIE, roles.SPACE_VIEWER))
        assert (status, body["error"]["message"]) == (
            400, "federated user can not become a space member")
