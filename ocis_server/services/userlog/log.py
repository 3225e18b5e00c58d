"""What a userlog notification says, in the shape oCIS's userlog answers (OC10Notification:
notification_id, app, user, datetime, object_id, object_type, subject, subjectRich, message,
messageRich, messageRichParameters). Where they are kept: store.py."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from ocis_server.domain.ids import new_id

MAX_PER_USER = 200        # the oldest notification goes first beyond this
MAX_FOREIGN = 255         # a name another server sent is cut to this many characters

# oCIS userlog templates: (subject, message) with {user}, {resource}, {space}.
TEMPLATES = {
    "ShareCreated": ("Resource shared", "{user} shared {resource} with you"),
    "ShareRemoved": ("Resource unshared", "{user} unshared {resource} with you"),
    "SpaceShared": ("Space shared", "{user} added you to Space {space}"),
    "SpaceUnshared": ("Removed from Space", "{user} removed you from Space {space}"),
    # a federated share waiting to be accepted ({user}: the sharer's name and OCM address)
    "OCMCoreShareCreated": ("Resource shared",
                            "{user} shared {resource} with you (waiting to be accepted)"),
}


def plain(text: str, limit: int = MAX_FOREIGN) -> str:
    """Text another server sent, made safe to show on one line: control, format and separator
    characters (newlines, bidi overrides) become spaces, the result is cut to `limit`.
    Placeholders in it are never expanded (`compose` substitutes values, not templates)."""
    kept = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return " ".join(kept.split())[:limit]


def compose(kind: str, *, object_id: str, object_type: str, user: dict[str, str],
            username: str, resource: dict[str, str] | None = None,
            space: dict[str, str] | None = None) -> dict[str, Any]:
    subject, raw = TEMPLATES[kind]
    details: dict[str, Any] = {"user": user}
    names = {"user": user.get("displayname") or user.get("name", "")}
    if resource is not None:
        details["resource"], names["resource"] = resource, resource["name"]
    if space is not None:
        details["space"], names["space"] = space, space["name"]
    return {"notification_id": new_id(), "app": "userlog", "user": username,
            "datetime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "object_id": object_id, "object_type": object_type,
            "subject": subject, "subjectRich": subject,
            "message": raw.format(**{k: names.get(k, "") for k in ("user", "resource", "space")}),
            "messageRich": raw, "messageRichParameters": details}
