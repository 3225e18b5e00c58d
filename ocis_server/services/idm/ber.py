"""LDAPv3 messages in and out (RFC 4511): our one wrapper around pyasn1's BER codec and ldap3's
ASN.1 definitions. Everything else in the idm service sees plain dataclasses, never pyasn1 objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ldap3.protocol import rfc4511 as asn  # type: ignore[import-untyped]
from ldap3.protocol.rfc2696 import RealSearchControlValue  # type: ignore[import-untyped]
from ldap3.protocol.rfc3062 import PasswdModifyRequestValue  # type: ignore[import-untyped]
from pyasn1.codec.ber import decoder, encoder  # type: ignore[import-untyped]
from pyasn1.error import PyAsn1Error  # type: ignore[import-untyped]
from pyasn1.type import namedtype, tag, univ  # type: ignore[import-untyped]

# RFC 4511 §4.1.9 result codes we answer with
SUCCESS, OPERATIONS_ERROR, PROTOCOL_ERROR = 0, 1, 2
TIME_LIMIT_EXCEEDED, SIZE_LIMIT_EXCEEDED = 3, 4
COMPARE_FALSE, COMPARE_TRUE, AUTH_METHOD_NOT_SUPPORTED = 5, 6, 7
UNAVAILABLE_CRITICAL_EXTENSION, NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT = 12, 16, 32
CONSTRAINT_VIOLATION = 19
INAPPROPRIATE_AUTHENTICATION, INVALID_CREDENTIALS, INSUFFICIENT_ACCESS = 48, 49, 50
BUSY, UNWILLING_TO_PERFORM, OTHER = 51, 53, 80

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"        # RFC 2696
NOTICE_OF_DISCONNECTION_OID = "1.3.6.1.4.1.1466.20036"   # RFC 4511 §4.4.1

MAX_FILTER_DEPTH = 32        # nesting of and/or/not; deeper filters are a malformed request
MAX_FILTER_ITEMS = 512       # filter components in one search


class MalformedPDU(Exception):
    """The peer sent bytes that are not an LDAP message: the connection must be closed."""


# --- requests --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Control:
    oid: str
    critical: bool
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Request:
    message_id: int
    op: str                         # ldap3's protocolOp name: bindRequest, searchRequest, ...
    body: dict[str, Any] = field(default_factory=dict)
    controls: tuple[Control, ...] = ()


# Filter tree (RFC 4511 §4.5.1.7). Values stay bytes; matching decides how to compare them.
@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Any


@dataclass(frozen=True, slots=True)
class Compare:
    kind: str                       # equality | greaterOrEqual | lessOrEqual | approx
    attr: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Substrings:
    attr: str
    initial: bytes | None
    middle: tuple[bytes, ...]
    final: bytes | None


@dataclass(frozen=True, slots=True)
class Present:
    attr: str


@dataclass(frozen=True, slots=True)
class Extensible:
    rule: str | None
    attr: str | None
    value: bytes
    dn_attributes: bool


Filter = And | Or | Not | Compare | Substrings | Present | Extensible


class _SearchRequest(univ.Sequence):  # type: ignore[misc]
    """ldap3's SearchRequest with the filter kept raw: ldap3's recursive Filter type does not decode
    `and`/`or`/`not` with pyasn1 0.6, so `parse_filter` walks it (with a depth limit)."""
    tagSet = univ.Sequence.tagSet.tagImplicitly(
        tag.Tag(tag.tagClassApplication, tag.tagFormatConstructed, 3))
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("baseObject", asn.LDAPDN()),
        namedtype.NamedType("scope", univ.Enumerated()),
        namedtype.NamedType("derefAliases", asn.DerefAliases()),
        namedtype.NamedType("sizeLimit", asn.Integer0ToMax()),
        namedtype.NamedType("timeLimit", asn.Integer0ToMax()),
        namedtype.NamedType("typesOnly", asn.TypesOnly()),
        namedtype.NamedType("filter", univ.Any()),
        namedtype.NamedType("attributes", asn.AttributeSelection()))


_REQUESTS = {"bindRequest": asn.BindRequest, "unbindRequest": asn.UnbindRequest,
             "searchRequest": _SearchRequest, "modifyRequest": asn.ModifyRequest,
             "addRequest": asn.AddRequest, "delRequest": asn.DelRequest,
             "modDNRequest": asn.ModifyDNRequest, "compareRequest": asn.CompareRequest,
             "abandonRequest": asn.AbandonRequest, "extendedReq": asn.ExtendedRequest}


class _RequestOp(univ.Choice):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(*(namedtype.NamedType(name, cls())
                                           for name, cls in _REQUESTS.items()))


class _RequestMessage(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("messageID", asn.MessageID()),
        namedtype.NamedType("protocolOp", _RequestOp()),
        namedtype.OptionalNamedType("controls", asn.Controls()))


def frame_length(buf: bytes | bytearray, max_size: int) -> int | None:
    """Bytes of the first complete LDAPMessage in `buf` (tag + length + content), None while the
    header is incomplete. MalformedPDU for anything but a definite-length SEQUENCE within max_size."""
    if not buf:
        return None
    if buf[0] != 0x30:
        raise MalformedPDU("an LDAPMessage is a SEQUENCE")
    if len(buf) < 2:
        return None
    first = buf[1]
    if first < 0x80:
        total = 2 + first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:          # indefinite length is not allowed in LDAP (§5.1)
            raise MalformedPDU("bad length")
        if len(buf) < 2 + count:
            return None
        total = 2 + count + int.from_bytes(buf[2:2 + count], "big")
    if total > max_size:
        raise MalformedPDU("message too large")
    return total


def decode_request(pdu: bytes) -> Request:
    """One complete LDAPMessage (as framed by `frame_length`) -> Request. MalformedPDU otherwise."""
    try:
        message, rest = decoder.decode(pdu, asn1Spec=_RequestMessage())
        if rest:
            raise MalformedPDU("trailing bytes")
        op = message["protocolOp"]
        name = op.getName()
        body = _body(name, op.getComponent())
        controls = _controls(message["controls"]) if message["controls"].hasValue() else ()
        return Request(int(message["messageID"]), name, body, controls)
    except MalformedPDU:
        raise
    except (PyAsn1Error, ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise MalformedPDU(f"undecodable message: {type(exc).__name__}") from None


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8")


def _controls(controls: Any) -> tuple[Control, ...]:
    out = []
    for control in controls:
        value = control["controlValue"]
        out.append(Control(_text(control["controlType"]), bool(control["criticality"]),
                           bytes(value) if value.hasValue() else None))
    return tuple(out)


def _body(name: str, op: Any) -> dict[str, Any]:
    if name == "bindRequest":
        auth = op["authentication"]
        kind = auth.getName()
        password = bytes(auth.getComponent()) if kind == "simple" else b""
        return {"version": int(op["version"]), "name": _text(op["name"]), "auth": kind,
                "password": password}
    if name == "searchRequest":
        return {"base": _text(op["baseObject"]), "scope": int(op["scope"]),
                "size_limit": int(op["sizeLimit"]), "time_limit": int(op["timeLimit"]),
                "types_only": bool(op["typesOnly"]),
                "filter": parse_filter(bytes(op["filter"])),
                "attributes": tuple(_text(a) for a in op["attributes"])}
    if name == "compareRequest":
        ava = op["ava"]
        return {"entry": _text(op["entry"]), "attr": _text(ava["attributeDesc"]),
                "value": bytes(ava["assertionValue"])}
    if name == "abandonRequest":
        return {"id": int(op)}
    if name == "extendedReq":
        value = op["requestValue"]
        return {"oid": _text(op["requestName"]), "value": bytes(value) if value.hasValue() else None}
    return {}


# --- filters ---------------------------------------------------------------------------------

def _tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """(tag byte, content, remaining bytes) of the first element of `data` (low tag numbers only)."""
    if len(data) < 2:
        raise MalformedPDU("truncated filter")
    tag_byte, first = data[0], data[1]
    if tag_byte & 0x1F == 0x1F:
        raise MalformedPDU("unexpected high tag number")
    start, length = 2, first
    if first >= 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise MalformedPDU("bad filter length")
        start, length = 2 + count, int.from_bytes(data[2:2 + count], "big")
    if len(data) < start + length:
        raise MalformedPDU("truncated filter")
    return tag_byte, data[start:start + length], data[start + length:]


_LEAVES = {0xA3: ("equality", asn.EqualityMatch), 0xA5: ("greaterOrEqual", asn.GreaterOrEqual),
           0xA6: ("lessOrEqual", asn.LessOrEqual), 0xA8: ("approx", asn.ApproxMatch)}


def parse_filter(data: bytes) -> Filter:
    """A BER-encoded Filter -> our filter tree. Depth and size are capped, so a hostile filter costs
    at most MAX_FILTER_ITEMS comparisons per entry."""
    budget = [MAX_FILTER_ITEMS]
    flt, rest = _filter(data, 0, budget)
    if rest:
        raise MalformedPDU("trailing bytes after filter")
    return flt


def _filter(data: bytes, depth: int, budget: list[int]) -> tuple[Filter, bytes]:
    if depth > MAX_FILTER_DEPTH:
        raise MalformedPDU("filter nested too deeply")
    budget[0] -= 1
    if budget[0] < 0:
        raise MalformedPDU("filter too large")
    tag_byte, content, rest = _tlv(data)
    element = data[:len(data) - len(rest)]
    if tag_byte in (0xA0, 0xA1):            # and / or: SET SIZE (1..MAX) OF Filter
        items = []
        while content:
            item, content = _filter(content, depth + 1, budget)
            items.append(item)
        if not items:
            raise MalformedPDU("empty and/or")
        return (And(tuple(items)) if tag_byte == 0xA0 else Or(tuple(items))), rest
    if tag_byte == 0xA2:                    # not: [2] EXPLICIT Filter
        item, tail = _filter(content, depth + 1, budget)
        if tail:
            raise MalformedPDU("not takes one filter")
        return Not(item), rest
    return _leaf(tag_byte, content, element), rest


def _leaf(tag_byte: int, content: bytes, element: bytes) -> Filter:
    try:
        if tag_byte in _LEAVES:
            kind, spec = _LEAVES[tag_byte]
            ava, _ = decoder.decode(element, asn1Spec=spec())
            return Compare(kind, _text(ava["attributeDesc"]), bytes(ava["assertionValue"]))
        if tag_byte == 0x87:                 # present: [7] AttributeDescription (primitive)
            return Present(content.decode("utf-8"))
        if tag_byte == 0xA4:
            return _substrings(element)
        if tag_byte == 0xA9:
            rule, _ = decoder.decode(element, asn1Spec=asn.ExtensibleMatch())
            return Extensible(_text(rule["matchingRule"]) if rule["matchingRule"].hasValue() else None,
                              _text(rule["type"]) if rule["type"].hasValue() else None,
                              bytes(rule["matchValue"]), bool(rule["dnAttributes"]))
    except (PyAsn1Error, UnicodeDecodeError, ValueError) as exc:
        raise MalformedPDU(f"bad filter item: {type(exc).__name__}") from None
    raise MalformedPDU(f"unknown filter choice 0x{tag_byte:02x}")


def _substrings(element: bytes) -> Substrings:
    value, _ = decoder.decode(element, asn1Spec=asn.SubstringFilter())
    initial: bytes | None = None
    final: bytes | None = None
    middle: list[bytes] = []
    parts = list(value["substrings"])
    for index, part in enumerate(parts):
        kind, piece = part.getName(), bytes(part.getComponent())
        # RFC 4511 §4.5.1.7.2: initial at most once and first, final at most once and last
        if kind == "initial" and index == 0:
            initial = piece
        elif kind == "final" and index == len(parts) - 1 and final is None:
            final = piece
        elif kind == "any":
            middle.append(piece)
        else:
            raise MalformedPDU("misplaced initial/final substring")
    return Substrings(_text(value["type"]), initial, tuple(middle), final)


def paged_request(value: bytes | None) -> tuple[int, bytes]:
    """The (page size, cookie) of an RFC 2696 control value."""
    if value is None:
        raise MalformedPDU("paged results control without a value")
    try:
        control, _ = decoder.decode(value, asn1Spec=RealSearchControlValue())
        return int(control["size"]), bytes(control["cookie"])
    except (PyAsn1Error, ValueError) as exc:
        raise MalformedPDU(f"bad paged results control: {type(exc).__name__}") from None


def password_modify_request(value: bytes | None) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(userIdentity, oldPasswd, newPasswd) of an RFC 3062 request value; None where absent."""
    if value is None:
        return None, None, None
    try:
        request, rest = decoder.decode(value, asn1Spec=PasswdModifyRequestValue())
    except (PyAsn1Error, ValueError) as exc:
        raise MalformedPDU(f"bad password modify request: {type(exc).__name__}") from None
    if rest:
        raise MalformedPDU("trailing bytes after the password modify request")

    def field_(name: str) -> bytes | None:
        item = request[name]
        return bytes(item) if item.hasValue() else None

    return field_("userIdentity"), field_("oldPasswd"), field_("newPasswd")


# --- responses -------------------------------------------------------------------------------

_RESPONSES = {"bindRequest": ("bindResponse", asn.BindResponse),
              "searchRequest": ("searchResDone", asn.SearchResultDone),
              "modifyRequest": ("modifyResponse", asn.ModifyResponse),
              "addRequest": ("addResponse", asn.AddResponse),
              "delRequest": ("delResponse", asn.DelResponse),
              "modDNRequest": ("modDNResponse", asn.ModifyDNResponse),
              "compareRequest": ("compareResponse", asn.CompareResponse),
              "extendedReq": ("extendedResp", asn.ExtendedResponse)}
ANSWERED = frozenset(_RESPONSES)       # request operations that get a response


def _envelope(message_id: int, name: str, op: Any, controls: list[Control] | None) -> bytes:
    message = asn.LDAPMessage()
    message["messageID"] = message_id
    choice = asn.ProtocolOp()
    choice.setComponentByName(name, op)
    message["protocolOp"] = choice
    if controls:
        seq = message.setComponentByName("controls").getComponentByName("controls")
        for index, item in enumerate(controls):
            control = asn.Control()
            control["controlType"] = item.oid
            control["criticality"] = item.critical
            if item.value is not None:
                control["controlValue"] = item.value
            seq.setComponentByPosition(index, control)
    return bytes(encoder.encode(message))


def encode_result(message_id: int, request_op: str, code: int, message: str = "", *,
                  matched_dn: str = "", response_name: str | None = None,
                  response_value: bytes | None = None,
                  controls: list[Control] | None = None) -> bytes:
    """The LDAPResult answering `request_op` (bindResponse for bindRequest, ...)."""
    name, cls = _RESPONSES[request_op]
    op = cls()
    op["resultCode"] = code
    op["matchedDN"] = matched_dn
    op["diagnosticMessage"] = message
    if response_name is not None:
        op["responseName"] = response_name
    if response_value is not None:
        op["responseValue"] = response_value
    return _envelope(message_id, name, op, controls)


def encode_notice_of_disconnection(code: int, message: str) -> bytes:
    """The unsolicited notification sent before closing a connection (message id 0)."""
    return encode_result(0, "extendedReq", code, message, response_name=NOTICE_OF_DISCONNECTION_OID)


def encode_entry(message_id: int, dn: str, attributes: list[tuple[str, list[bytes]]]) -> bytes:
    entry = asn.SearchResultEntry()
    entry["object"] = dn
    attrs = entry["attributes"]
    for index, (name, values) in enumerate(attributes):
        partial = asn.PartialAttribute()
        partial["type"] = name
        vals = partial["vals"]
        for position, value in enumerate(values):
            vals.setComponentByPosition(position, value)
        attrs.setComponentByPosition(index, partial)
    return _envelope(message_id, "searchResEntry", entry, None)


def paged_response(size: int, cookie: bytes) -> Control:
    value = RealSearchControlValue()
    value["size"] = size
    value["cookie"] = cookie
    return Control(PAGED_RESULTS_OID, False, bytes(encoder.encode(value)))
