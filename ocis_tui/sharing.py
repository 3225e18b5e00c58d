"""What the sharing dialogs offer: the roles and link types that fit an item and the user's own
permissions on it, and how recipients and shares read on screen. Pure; the SDK
(`ocis_cli.client.shares`) talks to the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocis_cli.client import Resource, protocol
from ocis_cli.client.protocol import GROUP, LINK
from ocis_cli.client.shares import Sharee, ShareInfo


@dataclass(frozen=True, slots=True)
class RoleChoice:
    """A unified role the user may pick: its CLI name (`viewer`, ...), what it means, its bits."""

    name: str
    label: str
    bits: int


def _choice(name: str, label: str) -> RoleChoice:
    return RoleChoice(name, label, protocol.ROLE_BY_NAME[name].bits)


# The unified roles offered for user and group shares by kind of item (protocol-notes.md §7: oCIS
# enables Viewer, File Editor, Editor, Uploader by default). `bits` are the OCS permissions each
# grants (ocis_cli.client.protocol): the sharer must hold them all.
FILE_ROLES = (_choice("viewer", "Can view"), _choice("file-editor", "Can edit"))
FOLDER_ROLES = (_choice("viewer", "Can view"),
                _choice("editor", "Can edit: upload, change, delete"),
                _choice("uploader", "Can upload, cannot see the contents"))

# The fixed ids of those roles (the contract with every client), so the roles the server offers
# for an item (Graph `@libre.graph.permissions.roles.allowedValues`) read as CLI names.
ROLE_IDS = {protocol.ROLE_BY_NAME[r.name].id: r.name for r in FILE_ROLES + FOLDER_ROLES}

# What each link type (ocis_cli.client.protocol.LINK_TYPES) lets anyone with the link do.
LINK_MEANING = {
    "view": "Anyone with the link can view and download",
    "upload": "Anyone can view, download and upload",
    "edit": "Anyone can view, upload, change and delete",
    "file-drop": "Anyone can upload; nobody sees the contents",
    "internal": "Only people who already have access",
}


def held_bits(permissions: str) -> int:
    """The OCS bits a WebDAV permission string (`oc:permissions`, reva's letters) stands for:
    R share, D delete, N/V/W update, C/K create; reading is implied."""
    bits = 1
    if any(letter in permissions for letter in "WNV"):
        bits |= 2
    if "C" in permissions or "K" in permissions:
        bits |= 4
    if "D" in permissions:
        bits |= 8
    if "R" in permissions:
        bits |= 16
    return bits


def may_share(res: Resource) -> bool:
    """`R` in `oc:permissions`: the user may share it (owner, manager)."""
    return "R" in res.permissions


def roles_for(res: Resource) -> list[RoleChoice]:
    """The roles valid for this item that grant no more than the user holds on it."""
    held = held_bits(res.permissions)
    choices = FOLDER_ROLES if res.is_folder else FILE_ROLES
    return [role for role in choices if role.bits & ~held == 0]


def offered_roles(res: Resource, allowed_ids: list[str] | None) -> list[RoleChoice]:
    """`roles_for`, narrowed to the role ids the server allows on the item (None: the server
    does not say, so the table alone decides)."""
    local = roles_for(res)
    if allowed_ids is None:
        return local
    names = {ROLE_IDS[rid] for rid in allowed_ids if rid in ROLE_IDS}
    return [role for role in local if role.name in names]


def link_types_for(res: Resource) -> list[tuple[str, str]]:
    """(type, meaning) of the link types that fit the item, and that the user could grant: a
    link never gives more than its creator holds (edit needs write access)."""
    held = held_bits(res.permissions)
    out = []
    for name in protocol.LINK_TYPES:
        if name in protocol.LINK_FOLDER_ONLY and not res.is_folder:
            continue
        if protocol.link_bits(name, is_folder=res.is_folder) & ~held == 0:
            out.append((name, LINK_MEANING[name]))
    return out


def sharee_text(sharee: Sharee) -> str:
    """`Marie Curie (marie) <marie@example.org>`, `group physics-lovers`."""
    if sharee.kind == "group":
        return f"group {sharee.name}"
    extra = f" <{sharee.info}>" if sharee.info else ""
    return f"{sharee.label} ({sharee.name}){extra}"


def sharee_cli(sharee: Sharee) -> str:
    """How `ocis share add` names the recipient: a user name, or `group:NAME`."""
    return f"group:{sharee.name}" if sharee.kind == "group" else sharee.name


def recipient_text(share: ShareInfo) -> str:
    if share.share_type == LINK:
        return share.name or "link"
    if share.share_type == GROUP:
        return f"group {share.recipient}"
    name = share.recipient_name
    return f"{name} ({share.recipient})" if name and name != share.recipient else share.recipient


def item_name(share: ShareInfo) -> str:
    return share.path.rstrip("/").rsplit("/", 1)[-1] or share.path
