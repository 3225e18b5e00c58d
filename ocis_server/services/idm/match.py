"""Search filters evaluated against entries (RFC 4511 §4.5.1.7, three-valued: True, False or
None for Undefined) and attribute selection (§4.5.1.8). Assertion values are compared as data,
never compiled into patterns, so a filter cannot inject anything."""

from __future__ import annotations

from collections.abc import Callable

from . import dn as dnlib
from .ber import And, Compare, Extensible, Filter, Not, Or, Present, Substrings
from .directory import DN_ATTRIBUTES, KNOWN, OPERATIONAL, Entry

Tri = bool | None


def _prep(attr: str, value: str) -> str | None:
    """The matching-rule preparation of a value for the attribute's equality rule."""
    if attr in DN_ATTRIBUTES:
        try:
            return dnlib.normalize(value)
        except dnlib.InvalidDN:
            return None
    return dnlib.fold(value)


def _assertion(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def evaluate(flt: Filter, entry: Entry) -> Tri:
    if isinstance(flt, And):
        result: Tri = True
        for item in flt.items:
            value = evaluate(item, entry)
            if value is False:
                return False
            if value is None:
                result = None
        return result
    if isinstance(flt, Or):
        result = False
        for item in flt.items:
            value = evaluate(item, entry)
            if value is True:
                return True
            if value is None:
                result = None
        return result
    if isinstance(flt, Not):
        value = evaluate(flt.item, entry)
        return None if value is None else not value
    if isinstance(flt, Present):
        key = dnlib.attr_key(flt.attr)
        return bool(entry.values(key)) or (key == "objectclass")
    if isinstance(flt, Compare):
        return _compare(flt, entry)
    if isinstance(flt, Substrings):
        return _substrings(flt, entry)
    return _extensible(flt, entry)


def _compare(flt: Compare, entry: Entry) -> Tri:
    key = dnlib.attr_key(flt.attr)
    raw = _assertion(flt.value)
    if key not in KNOWN or raw is None:
        return None
    wanted = _prep(key, raw)
    if wanted is None:
        return None
    values = entry.values(key) or []
    if flt.kind == "equality":
        return any(_prep(key, v) == wanted for v in values)
    if flt.kind == "approx":                     # approximate: equality ignoring all spaces
        squeeze = wanted.replace(" ", "")
        return any((_prep(key, v) or "").replace(" ", "") == squeeze for v in values)
    if key in DN_ATTRIBUTES:                     # DNs have no ordering rule
        return None
    if flt.kind == "greaterOrEqual":
        return any(dnlib.fold(v) >= wanted for v in values)
    return any(dnlib.fold(v) <= wanted for v in values)


def _substrings(flt: Substrings, entry: Entry) -> Tri:
    key = dnlib.attr_key(flt.attr)
    if key not in KNOWN or key in DN_ATTRIBUTES:
        return None
    parts = [_assertion(p) for p in (flt.initial or b"", *flt.middle, flt.final or b"")]
    if any(p is None for p in parts):
        return None
    initial, *middle, final = (dnlib.fold(p or "") for p in parts)
    return any(_substring_match(dnlib.fold(v), initial, middle, final)
               for v in entry.values(key) or [])


def _substring_match(value: str, initial: str, middle: list[str], final: str) -> bool:
    if not value.startswith(initial):
        return False
    pos = len(initial)
    for piece in middle:
        found = value.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    return len(value) - pos >= len(final) and value.endswith(final)


_RULES: dict[str, Callable[[str, str], str | None]] = {
    "2.5.13.2": lambda attr, v: _prep(attr, v), "caseignorematch": lambda attr, v: _prep(attr, v),
    "2.5.13.5": lambda attr, v: v, "caseexactmatch": lambda attr, v: v,
    "2.5.13.1": lambda attr, v: _dn_or_none(v), "distinguishednamematch": lambda attr, v: _dn_or_none(v),
    "2.5.13.17": lambda attr, v: v, "octetstringmatch": lambda attr, v: v,
}


def _dn_or_none(value: str) -> str | None:
    try:
        return dnlib.normalize(value)
    except dnlib.InvalidDN:
        return None


def _extensible(flt: Extensible, entry: Entry) -> Tri:
    """extensibleMatch (§4.5.1.7.7): a named rule or the attribute's equality rule, over one
    attribute or (without a type) all of them, plus the DN's own values with dnAttributes."""
    raw = _assertion(flt.value)
    if raw is None or (flt.rule is None and flt.attr is None):
        return None
    if flt.rule is not None:
        rule = _RULES.get(flt.rule.lower())
        if rule is None:
            return None
    else:
        rule = _prep
    attrs: list[str]
    if flt.attr is not None:
        key = dnlib.attr_key(flt.attr)
        if key not in KNOWN:
            return None
        attrs = [key]
    else:
        attrs = list(entry.attrs)
    candidates = [(attr, value) for attr in attrs for value in entry.values(attr) or []]
    if flt.dn_attributes and entry.dn:
        candidates += [(attr, value) for rdn in dnlib.parse(entry.dn) for attr, value in rdn
                       if flt.attr is None or attr == dnlib.attr_key(flt.attr)]
    for attr, value in candidates:
        wanted = rule(attr, raw)
        if wanted is not None and rule(attr, value) == wanted:
            return True
    return False


def select(entry: Entry, requested: tuple[str, ...], *,
           types_only: bool) -> list[tuple[str, list[bytes]]]:
    """The attributes a search returns (§4.5.1.8): none for `1.1`, all user attributes for an empty
    list or `*`, operational ones for `+` or by name. userPassword is never returned."""
    names = [r.strip() for r in requested if r.strip()]
    keys = {dnlib.attr_key(n) for n in names}
    all_user = not names or "*" in names
    all_operational = "+" in names
    out = []
    for key, (name, values) in entry.attrs.items():
        if key == "userpassword":
            continue
        operational = key in OPERATIONAL
        if key in keys or (all_user and not operational) or (all_operational and operational):
            out.append((name, [] if types_only else [v.encode("utf-8") for v in values]))
    return out
