"""A small, tolerant parser for the OData query forms clients send to `me/drives`.

Only what oCIS accepts there (`services/graph/pkg/service/v0/drives.go`): `$filter` made of
`<field> eq '<value>'` clauses joined by `and`, over `driveType`, `id` and `driveAlias`;
`$orderby=name|lastModifiedDateTime [asc|desc]`. Anything else is a 400 invalidRequest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocis_server.domain.errors import BadRequest

FILTER_FIELDS = ("driveType", "id", "driveAlias")
ORDER_FIELDS = ("name", "lastModifiedDateTime")

# One clause: field, `eq`, a single-quoted literal in which '' is an escaped quote.
_CLAUSE = re.compile(r"\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_AND = re.compile(r"and\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OrderBy:
    field: str
    descending: bool


def parse_filter(text: str | None) -> list[tuple[str, str]]:
    """`driveType eq 'project' and id eq 'x'` -> [("driveType", "project"), ("id", "x")]."""
    if text is None or not text.strip():
        return []
    clauses: list[tuple[str, str]] = []
    pos = 0
    while True:
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise BadRequest(f"unsupported $filter: {text!r}")
        field = _canonical(match.group(1), FILTER_FIELDS, "$filter")
        clauses.append((field, match.group(2).replace("''", "'")))
        pos = match.end()
        if pos == len(text):
            return clauses
        joiner = _AND.match(text, pos)
        if joiner is None:
            raise BadRequest(f"unsupported $filter: {text!r}")
        pos = joiner.end()


def parse_orderby(text: str | None) -> OrderBy | None:
    """`name`, `name desc`, `lastModifiedDateTime asc` -> OrderBy; None when absent."""
    if text is None or not text.strip():
        return None
    words = text.split()
    if len(words) > 2:
        raise BadRequest(f"unsupported $orderby: {text!r}")
    field = _canonical(words[0], ORDER_FIELDS, "$orderby")
    direction = words[1].lower() if len(words) == 2 else "asc"
    if direction not in ("asc", "desc"):
        raise BadRequest(f"unsupported $orderby direction: {words[1]!r}")
    return OrderBy(field, direction == "desc")


def _canonical(name: str, allowed: tuple[str, ...], what: str) -> str:
    for field in allowed:
        if field.lower() == name.lower():
            return field
    raise BadRequest(f"unsupported {what} field: {name!r}")
