"""OData query forms of the directory endpoints (`/users`, `/groups`), as oCIS's graph accepts them
(`services/graph/pkg/service/v0/users.go`, `groups.go`): `$search` (a quoted or bare term),
`$filter` clauses joined by `and` — `userType eq 'Guest'`, `memberOf/any(x:x/id eq '<gid>')`,
`appRoleAssignments/any(x:x/appRoleId eq '<role id>')` — and `$orderby`. Anything else is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from ocis_server.domain.errors import BadRequest, PermissionDenied

T = TypeVar("T")
# oCIS GRAPH_IDENTITY_SEARCH_MIN_LENGTH: non-admins must type this much before users are listed.
SEARCH_MIN_LENGTH = 3
MAX_SEARCH_LENGTH = 256

_LITERAL = r"'((?:[^']|'')*)'"
_CLAUSES = (
    ("userType", re.compile(r"\s*userType\s+eq\s+" + _LITERAL + r"\s*", re.IGNORECASE)),
    ("memberOf", re.compile(r"\s*memberOf/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+" + _LITERAL
                            + r"\s*\)\s*", re.IGNORECASE)),
    ("appRoleId", re.compile(r"\s*appRoleAssignments/any\(\s*(\w+)\s*:\s*\1/appRoleId\s+eq\s+"
                             + _LITERAL + r"\s*\)\s*", re.IGNORECASE)),
)
_AND = re.compile(r"and\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Query:
    search: str | None
    filters: tuple[tuple[str, str], ...]
    orderby: str | None
    descending: bool
    expand: frozenset[str]


def search_term(request: web.Request) -> str | None:
    """`$search="ein"` or `$search=ein` -> "ein"; None when absent or empty."""
    raw = request.query.get("$search")
    if raw is None:
        return None
    term = raw.strip()
    if len(term) >= 2 and term[0] == term[-1] == '"':
        term = term[1:-1].replace('\\"', '"')
    if len(term) > MAX_SEARCH_LENGTH:
        raise BadRequest("$search term is too long")
    return term or None


def parse_filter(text: str | None, allowed: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if text is None or not text.strip():
        return ()
    clauses: list[tuple[str, str]] = []
    pos = 0
    while True:
        for name, pattern in _CLAUSES:
            match = pattern.match(text, pos)
            if match is not None and name in allowed:
                clauses.append((name, match.groups()[-1].replace("''", "'")))
                pos = match.end()
                break
        else:
            raise BadRequest(f"unsupported $filter: {text[:200]!r}")
        if pos == len(text):
            return tuple(clauses)
        joiner = _AND.match(text, pos)
        if joiner is None:
            raise BadRequest(f"unsupported $filter: {text[:200]!r}")
        pos = joiner.end()


def parse_query(request: web.Request, *, filters: Sequence[str], orderby: Sequence[str],
                expand: Sequence[str]) -> Query:
    order, descending = None, False
    raw_order = request.query.get("$orderby", "").split()
    if raw_order:
        if len(raw_order) > 2 or (len(raw_order) == 2 and raw_order[1].lower() not in ("asc", "desc")):
            raise BadRequest("unsupported $orderby")
        order = next((f for f in orderby if f.lower() == raw_order[0].lower()), None)
        if order is None:
            raise BadRequest(f"unsupported $orderby field: {raw_order[0][:100]!r}")
        descending = len(raw_order) == 2 and raw_order[1].lower() == "desc"
    wanted = {p.strip().lower() for p in request.query.get("$expand", "").split(",") if p.strip()}
    unknown = wanted - {e.lower() for e in expand}
    if unknown:
        raise BadRequest(f"unsupported $expand: {', '.join(sorted(unknown))[:200]}")
    return Query(search_term(request), parse_filter(request.query.get("$filter"), filters),
                 order, descending, frozenset(wanted))


def require_search(query: Query, *, admin: bool) -> None:
    """Non-admins may look people up (to share with them) but not enumerate the directory."""
    if not admin and (query.search is None or len(query.search) < SEARCH_MIN_LENGTH):
        raise PermissionDenied(f"search term too short: at least {SEARCH_MIN_LENGTH} characters")


def matches(term: str | None, *values: str) -> bool:
    if term is None:
        return True
    folded = term.casefold()
    return any(folded in value.casefold() for value in values)


def ordered(items: list[T], key: Callable[[T], str], *, descending: bool) -> list[T]:
    return sorted(items, key=lambda item: key(item).casefold(), reverse=descending)
