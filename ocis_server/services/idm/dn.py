"""Distinguished names (RFC 4514): parsing to a canonical, case-folded form for comparison, and
escaping values when names are built from user data (a username may contain `,` or `+`)."""

from __future__ import annotations

RDN = tuple[tuple[str, str], ...]     # (attribute type, normalised value) pairs, sorted
DN = tuple[RDN, ...]                   # most specific RDN first, as written

ALIASES = {"commonname": "cn", "surname": "sn", "userid": "uid", "organizationname": "o",
           "organizationalunitname": "ou", "rfc822mailbox": "mail", "2.5.4.3": "cn",
           "2.5.4.4": "sn", "0.9.2342.19200300.100.1.1": "uid", "2.5.4.10": "o", "2.5.4.11": "ou",
           "0.9.2342.19200300.100.1.3": "mail"}
_SPECIAL = ',+"\\<>;='


class InvalidDN(ValueError):
    """Not a distinguished name."""


def attr_key(name: str) -> str:
    """The canonical lower-case name of an attribute description, without options (`cn;lang-de`)."""
    base = name.split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def fold(value: str) -> str:
    """caseIgnoreMatch preparation: case-folded, inner whitespace collapsed (RFC 4518, simplified)."""
    return " ".join(value.casefold().split())


def escape_value(value: str) -> str:
    """An attribute value as it may appear in a DN string."""
    out = []
    for index, char in enumerate(value):
        if char in _SPECIAL or (char == "#" and index == 0):
            out.append("\\" + char)
        elif char == "\0":
            out.append("\\00")
        else:
            out.append(char)
    text = "".join(out)
    if text.startswith(" "):
        text = "\\" + text
    if text.endswith(" ") and len(text) > 1 and not text.endswith("\\ "):
        text = text[:-1] + "\\ "
    return text


def parse(dn: str) -> DN:
    """A DN string -> canonical tuple. InvalidDN when it is not one. The empty DN is ()."""
    if not dn.strip():
        return ()
    rdns: list[RDN] = []
    pairs: list[tuple[str, str]] = []
    pos, size = 0, len(dn)
    while True:
        attr, pos = _attr_type(dn, pos)
        value, pos = _value(dn, pos)
        pairs.append((attr, fold(value)))
        if pos >= size:
            rdns.append(tuple(sorted(pairs)))
            return tuple(rdns)
        sep = dn[pos]
        pos += 1
        if sep in ",;":
            rdns.append(tuple(sorted(pairs)))
            pairs = []


def _attr_type(dn: str, pos: int) -> tuple[str, int]:
    end = dn.find("=", pos)
    if end < 0:
        raise InvalidDN("missing '='")
    name = dn[pos:end].strip()
    if not name or not all(c.isalnum() or c in "-." for c in name) or not name[0].isalnum():
        raise InvalidDN("bad attribute type")
    return attr_key(name), end + 1


def _value(dn: str, pos: int) -> tuple[str, int]:
    size = len(dn)
    while pos < size and dn[pos] == " ":
        pos += 1
    if pos < size and dn[pos] == "#":                        # BER-encoded value, kept as text
        end = pos + 1
        while end < size and dn[end] not in ",+;":
            end += 1
        return dn[pos:end].strip(), end
    if pos < size and dn[pos] == '"':                        # RFC 1779 quoting, still seen
        end = dn.find('"', pos + 1)
        if end < 0:
            raise InvalidDN("unterminated quote")
        after = end + 1
        while after < size and dn[after] == " ":
            after += 1
        if after < size and dn[after] not in ",+;":
            raise InvalidDN("text after quoted value")
        return dn[pos + 1:end], after
    raw = bytearray()
    trailing = 0      # unescaped trailing spaces to drop
    while pos < size and dn[pos] not in ",+;":
        char = dn[pos]
        if char == "\\":
            pos, trailing = _escape(dn, pos, raw), 0
            continue
        if char in '"<>=':
            raise InvalidDN(f"unescaped {char!r}")
        raw += char.encode("utf-8")
        trailing = trailing + 1 if char == " " else 0
        pos += 1
    if trailing:
        del raw[-trailing:]
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError:
        raise InvalidDN("value is not UTF-8") from None


def _escape(dn: str, pos: int, raw: bytearray) -> int:
    nxt = dn[pos + 1:pos + 3]
    if len(nxt) == 2 and all(c in "0123456789abcdefABCDEF" for c in nxt):
        raw.append(int(nxt, 16))
        return pos + 3
    if nxt and (nxt[0] in _SPECIAL or nxt[0] in " #"):
        raw += nxt[0].encode("utf-8")
        return pos + 2
    raise InvalidDN("bad escape")


def canonical(dn: DN) -> str:
    """A stable string for a parsed DN (dictionary key, comparison)."""
    return ",".join("+".join(f"{a}={escape_value(v)}" for a, v in rdn) for rdn in dn)


def normalize(dn: str) -> str:
    return canonical(parse(dn))
