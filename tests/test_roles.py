"""The unified roles: fixed ids, names, conditions and the conversions to OCS bits and WebDAV
letters that clients depend on (protocol-notes.md §3, §4, §7)."""

from __future__ import annotations

import pytest

from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest


def test_fixed_ids_and_names() -> None:
    assert roles.by_name("viewer").id == "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5"
    assert roles.by_name("editor").id == "fb6c3e19-e378-47e5-b277-9732f9de6e21"
    assert roles.by_name("file-editor").id == "2d00ce52-1fc2-4dbc-8b95-a73b73395f5a"
    assert roles.by_name("uploader").id == "1c996275-f1c9-4e71-abdf-a42f6495e960"
    assert roles.by_name("editor-lite") is roles.UPLOADER
    assert roles.by_name("space-viewer").id == "a8d5fe5e-96e3-418d-825b-534dbdf22b99"
    assert roles.by_name("spaceeditor").id == "58c63c02-1d89-4572-916a-870abc5a1b7d"
    assert roles.by_name("Manager").id == "312c0871-5ef7-4b3a-85b6-0e4074c64049"
    assert roles.by_name("63e64e19-8d43-42ec-a738-2b6af2610efa") is roles.DENIED
    assert len({r.id for r in roles.ROLES}) == len(roles.ROLES)
    with pytest.raises(BadRequest):
        roles.by_name("owner")


def test_conditions_and_applicability() -> None:
    assert roles.VIEWER.conditions[:2] == ("exists @Resource.Folder", "exists @Resource.File")
    assert any('@Subject.UserType=="Federated"' in c for c in roles.EDITOR.conditions)
    assert roles.MANAGER.conditions == ("exists @Resource.Root",)
    file_roles = {r.cli_name for r in roles.available_for(roles.FILE)}
    assert file_roles == {"viewer", "file-editor"}
    folder_roles = {r.cli_name for r in roles.available_for(roles.FOLDER)}
    assert folder_roles == {"viewer", "editor", "uploader"}
    assert {r.cli_name for r in roles.available_for(roles.ROOT)} == {
        "space-viewer", "space-editor", "manager"}
    with pytest.raises(BadRequest, match="not applicable"):
        roles.require_applicable(roles.EDITOR, roles.FILE)
    with pytest.raises(BadRequest, match="not applicable"):
        roles.require_applicable(roles.MANAGER, roles.FOLDER)


@pytest.mark.parametrize(("asked", "stored"), [
    (31, 15), (29, 13), (27, 11), (23, 7), (22, 6), (21, 5), (19, 3), (17, 1), (15, 15), (1, 1)])
def test_resharing_is_stripped_from_folder_shares(asked: int, stored: int) -> None:
    assert roles.share_bits(asked, roles.FOLDER) == stored


def test_file_shares_never_create_or_delete() -> None:
    assert roles.share_bits(31, roles.FILE) == 3
    assert roles.share_bits(15, roles.FILE) == 3
    with pytest.raises(BadRequest):
        roles.share_bits(32, roles.FOLDER)
    with pytest.raises(BadRequest):
        roles.share_bits(0, roles.FOLDER)
    with pytest.raises(BadRequest):
        roles.share_bits(16, roles.FOLDER)      # share alone is nothing once stripped


def test_role_from_bits() -> None:
    assert roles.role_for_bits(1, roles.FILE) is roles.VIEWER
    assert roles.role_for_bits(3, roles.FILE) is roles.FILE_EDITOR
    assert roles.role_for_bits(15, roles.FOLDER) is roles.EDITOR
    assert roles.role_for_bits(4, roles.FOLDER) is roles.UPLOADER
    assert roles.role_for_bits(31, roles.ROOT) is roles.MANAGER
    assert roles.role_for_bits(5, roles.FOLDER) is None          # a custom combination


def test_webdav_letters() -> None:
    assert roles.webdav_permissions(31, is_dir=True) == "RDNVCK"
    assert roles.webdav_permissions(31, is_dir=False) == "RDNVW"
    # the space's owner or Manager (CS3 DenyGrant, PurgeRecycle): oCIS adds Z and P
    assert roles.webdav_permissions(31, is_dir=True, manage=True) == "RDNVCKZP"
    assert roles.webdav_permissions(31, is_dir=False, manage=True) == "RDNVWZP"
    assert roles.webdav_permissions(31, is_dir=True, manage=True, public=True) == "RDNVCK"
    assert roles.webdav_permissions(15, is_dir=True, shared=True, mounted=True) == "SMDNVCK"
    assert roles.webdav_permissions(1, is_dir=True, shared=True, mounted=True) == "SM"
    assert roles.webdav_permissions(3, is_dir=False, shared=True) == "SNVW"
    assert roles.webdav_permissions(4, is_dir=True, shared=True) == "SCK"
    assert roles.grantable_bits(31, is_dir=False) == 19
    assert roles.grantable_bits(15, is_dir=True) == 15
