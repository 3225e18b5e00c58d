"""The SDK's protocol constants (`ocis_cli/client/protocol.py`, used by the SDK, the CLI and the
TUI, which may not import the server) agree with the server's tables: every unified role (id,
CLI name, bits, kinds, enabled), the role a share's bits stand for, the link types and their bits,
OCS share types and received-share states."""

from __future__ import annotations

import pytest

from ocis_cli.client import protocol
from ocis_server.domain import roles
from ocis_server.services.frontend import sharerecord


def test_every_unified_role_agrees() -> None:
    assert [r.id for r in protocol.ROLES] == [r.id for r in roles.ROLES]
    for mine, theirs in zip(protocol.ROLES, roles.ROLES, strict=True):
        assert (mine.cli_name, mine.bits, set(mine.kinds), mine.enabled) == \
            (theirs.cli_name, theirs.bits, set(theirs.kinds), theirs.enabled), theirs.id
        assert mine.is_space_role == theirs.is_space_role
        assert roles.by_name(mine.cli_name) is theirs            # the server takes the CLI name
    assert set(protocol.SPACE_ROLE_OF_MEMBER) == set(roles.SPACE_ROLE_OF_MEMBER)
    for member_role, cli_name in protocol.SPACE_ROLE_OF_MEMBER.items():
        assert roles.SPACE_ROLE_OF_MEMBER[member_role].cli_name == cli_name


@pytest.mark.parametrize("kind", [protocol.ROOT, protocol.FOLDER, protocol.FILE])
def test_the_role_of_a_bitmask_agrees(kind: str) -> None:
    for bits in [*range(0, 32), roles.DENIED_BITS]:
        server = roles.role_for_bits(bits, kind)
        assert protocol.role_for_bits(bits, kind) == (server.cli_name if server else None), bits


def test_bits_and_link_types_agree() -> None:
    assert (protocol.READ, protocol.UPDATE, protocol.CREATE, protocol.DELETE, protocol.SHARE,
            protocol.ALL, protocol.DENIED_BITS) == (roles.READ, roles.UPDATE, roles.CREATE,
                                                    roles.DELETE, roles.SHARE, roles.ALL,
                                                    roles.DENIED_BITS)
    assert protocol.LINK_TYPES == roles.LINK_TYPES
    assert protocol.LINK_FOLDER_ONLY == roles.LINK_FOLDER_ONLY
    for link_type in protocol.LINK_TYPES:
        for is_folder in (True, False):
            if link_type in protocol.LINK_FOLDER_ONLY and not is_folder:
                with pytest.raises(ValueError):
                    protocol.link_bits(link_type, is_folder=is_folder)
                continue
            bits = protocol.link_bits(link_type, is_folder=is_folder)
            assert bits == roles.link_bits(link_type, is_dir=is_folder)
            assert roles.link_type_for_bits(bits, is_dir=is_folder) == link_type
            assert protocol.link_type_for_bits(bits) == link_type


def test_share_types_and_states_agree() -> None:
    assert (protocol.USER, protocol.GROUP, protocol.LINK, protocol.FEDERATED, protocol.SPACE_USER,
            protocol.SPACE_GROUP) == (sharerecord.USER, sharerecord.GROUP, sharerecord.PUBLIC_LINK,
                                      sharerecord.FEDERATED, sharerecord.SPACE_USER,
                                      sharerecord.SPACE_GROUP)
    assert protocol.STATES == sharerecord.STATE_OF_NUMBER
