"""XML for ocdav: hardened request parsing (defusedxml, size and depth caps) and the byte
fragments responses are built from (no DOM for responses: a 10 000-entry PROPFIND
streams without building a tree).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET  # type: ignore[import-untyped]
from aiohttp import web
from defusedxml import DefusedXmlException

from ocis_server.domain.errors import BadRequest, PayloadTooLarge

from .config import OcdavConfig

NS_DAV = "DAV:"
NS_OC = "http://owncloud.org/ns"
NS_OCS = "http://open-collaboration-services.org/ns"
NS_NC = "http://nextcloud.org/ns"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Prefixes declared once on every multistatus root; other namespaces are declared inline.
PREFIXES = {NS_DAV: "d", NS_OC: "oc", NS_OCS: "ocs", NS_NC: "nc"}
ROOT_XMLNS = " ".join(f'xmlns:{p}="{ns}"' for ns, p in PREFIXES.items())
XML_DECL = b'<?xml version="1.0" encoding="utf-8"?>\n'
CONTENT_TYPE = "application/xml; charset=utf-8"   # owncloudcmd checks this exact substring

QName = tuple[str, str]   # (namespace, local name); "" is the empty namespace


async def read_xml(request: web.Request, conf: OcdavConfig) -> Element | None:
    """The parsed XML body of a request, None when empty. A declared Content-Length over the
    cap is refused with 413 before a byte is read; a chunked body is cut off at the cap."""
    return parse_body(await read_body(request, conf), max_depth=conf.max_xml_depth)


async def read_body(request: web.Request, conf: OcdavConfig) -> bytes:
    """The raw body of an XML request, with the size checks of `read_xml`."""
    limit = conf.max_xml_body
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("the request body is too large")
    content = request.content
    if content.is_eof():      # the usual small body came with the headers: take it as it is
        whole = content.read_nowait()
        if len(whole) > limit:
            raise PayloadTooLarge("the request body is too large")
        return whole
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge("the request body is too large")
    return bytes(data)


def parse_body(data: bytes, *, max_depth: int) -> Element | None:
    """Parse a request body; None when it is empty. Entities, DTDs and deep nesting -> 400."""
    if not data.strip():
        return None
    try:
        root: Element = DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                    forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        # LookupError: an unknown `encoding=` in the XML declaration (expat asks the codec registry).
        raise BadRequest(f"invalid XML body: {type(exc).__name__}") from None
    _check_depth(root, max_depth)
    return root


def _check_depth(root: Element, max_depth: int) -> None:
    # Iterative: a 100 000-deep body parses fine, so the cap is ours (security-notes.md §3).
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest("XML body nests too deeply")
        stack.extend((child, depth + 1) for child in el)


def qname(tag: str) -> QName:
    """ElementTree's `{ns}local` (or bare `local` for the empty namespace) as a pair."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def prop_key(name: QName) -> str:
    """The storage key of a dead property: `{namespace}localname` (`{}x` for no namespace)."""
    return f"{{{name[0]}}}{name[1]}"


def key_qname(key: str) -> QName:
    ns, _, local = key[1:].partition("}")
    return ns, local


def is_tag(el: Element, ns: str, local: str) -> bool:
    return el.tag == f"{{{ns}}}{local}"


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_attr(text: str) -> str:
    return esc(text).replace('"', "&quot;")


_PROPSTAT_OK = "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
_PROPSTAT_MISSING = "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"


def response_xml(href: str, values: Iterable[tuple[QName, str | None]], *, allprop: bool) -> str:
    """One `<d:response>` of a small listing (trash, versions): a 200 propstat for the properties
    with a value ("" renders an empty element) and, unless allprop, a 404 one for those without."""
    found: list[str] = []
    missing: list[str] = []
    for name, value in values:
        open_tag, close_tag, empty = tags(name)
        if value is None:
            if not allprop:
                missing.append(empty)
        else:
            found.append(f"{open_tag}{value}{close_tag}" if value else empty)
    parts = [f"<d:response><d:href>{esc(href)}</d:href>"]
    if found:
        parts.append(f"<d:propstat><d:prop>{''.join(found)}</d:prop>{_PROPSTAT_OK}")
    if missing:
        parts.append(f"<d:propstat><d:prop>{''.join(missing)}</d:prop>{_PROPSTAT_MISSING}")
    parts.append("</d:response>")
    return "".join(parts)


@lru_cache(maxsize=4096)
def tags(name: QName) -> tuple[str, str, str]:
    """(open, close, empty) tags of a property, with an inline xmlns when needed."""
    ns, local = name
    prefix = PREFIXES.get(ns)
    if prefix is not None:
        full = f"{prefix}:{local}"
        decl = ""
    elif ns == "":
        full, decl = local, ' xmlns=""'
    else:
        full, decl = f"x:{local}", f' xmlns:x="{esc_attr(ns)}"'
    return f"<{full}{decl}>", f"</{full}>", f"<{full}{decl}/>"


def inner_xml(el: Element) -> str:
    """The content of `el` (text and child elements) as self-contained XML: every element
    declares its own namespace, so the fragment can be embedded anywhere later."""
    parts = [esc(el.text or "")]
    for child in el:
        parts.append(_element_xml(child))
        parts.append(esc(child.tail or ""))
    return "".join(parts)


def _element_xml(el: Element) -> str:
    ns, local = qname(el.tag)
    attrs = [f' xmlns="{esc_attr(ns)}"']
    for i, (key, value) in enumerate(el.attrib.items()):
        ans, alocal = qname(key)
        if ans == XML_NS:          # xml:lang and friends: the prefix is reserved, never declared
            attrs.append(f' xml:{alocal}="{esc_attr(value)}"')
        elif ans:
            attrs.append(f' xmlns:a{i}="{esc_attr(ans)}" a{i}:{alocal}="{esc_attr(value)}"')
        else:
            attrs.append(f' {alocal}="{esc_attr(value)}"')
    content = inner_xml(el)
    if not content:
        return f"<{local}{''.join(attrs)}/>"
    return f"<{local}{''.join(attrs)}>{content}</{local}>"


def text_of(el: Element) -> str:
    """All text below an element (for simple values such as oc:favorite)."""
    return "".join(el.itertext()).strip()
