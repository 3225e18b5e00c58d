"""The paris side of the OpenID path of federation (docs/federation.md): a user registers a WebDAV
URL of another server (`ocis remote add URL`), typically `<zurich>/dav/spaces/<id>/` that someone
there shared with their federated address. The entry lives in their registry here and is listed
among their spaces; their client opens the URL itself with their own access token (the other
server trusts our issuer). This server never contacts the URL and never sends a token there.

The rules: the URL is an absolute http(s) WebDAV spaces URL (`/dav/spaces/<id>/` or
`/remote.php/dav/spaces/<id>/`, no user info, query, fragment or `.`/`..` segment) on an origin the
providers file lists for another provider, https unless OCM_OCM_STORAGE_PROVIDER_INSECURE allows
http to a loopback address; a name is unique per user and usable as `NAME:/path` (no `/` or `:`);
only its owner lists or removes an entry.
"""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import new_id
from ocis_server.identity import User
from ocis_server.storage import RemoteLink

from .federated_sent import FederationPeer
from .rules import SharingContext

MAX_URL = 2048
MAX_NAME = 255
_PREFIXES = ("/dav/spaces/", "/remote.php/dav/spaces/")


def check_url(url: str) -> str:
    """The URL in its stored form (one trailing `/`); BadRequest saying what is wrong."""
    text = url.strip()
    if not text or len(text) > MAX_URL or any(c.isspace() or not c.isprintable() for c in text):
        raise BadRequest("the URL must be an absolute https URL of at most 2048 characters")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{text[:200]!r} is not an absolute http(s) URL")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise BadRequest("the URL may not carry user info, a query or a fragment")
    prefix = next((p for p in _PREFIXES if parts.path.startswith(p)), None)
    space = parts.path[len(prefix):].rstrip("/") if prefix else ""
    if not space or "/" in space:
        raise BadRequest("the URL must be a WebDAV space URL: .../dav/spaces/<space id>/")
    if unquote(space) in (".", "..") or "/" in unquote(space):
        raise BadRequest("the URL may not contain '.' or '..' segments")
    return text.rstrip("/") + "/"


def check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > MAX_NAME or any(c in "/:\\" or not c.isprintable() for c in text):
        raise BadRequest("a remote space name must be 1 to 255 characters, without '/', '\\' "
                         "or ':'")
    return text


def _peer(peer: FederationPeer | None) -> FederationPeer:
    if peer is None:
        raise BadRequest("federation is off on this server (OCIS_ENABLE_OCM)")
    return peer


async def add(ctx: SharingContext, peer: FederationPeer | None, user: User, url: str,
              name: str | None) -> RemoteLink:
    """Register `url` in `user`'s registry under `name` (default: the provider's domain)."""
    stored = check_url(url)
    provider = _peer(peer).storage_provider_of(stored)
    link = RemoteLink(id=new_id(), user_id=user.id, name=check_name(name or provider),
                      url=stored, provider=provider, ctime=time.time())
    return await ctx.storage.create_remote_link(link)


async def listed(ctx: SharingContext, user: User) -> list[RemoteLink]:
    return await ctx.storage.remote_links(user.id)


async def remove(ctx: SharingContext, user: User, link_id: str) -> None:
    """Remove the entry from `user`'s registry (only theirs; the remote data is not touched)."""
    if not link_id or len(link_id) > 64:
        raise NotFound("remote space not found")
    await ctx.storage.delete_remote_link(user.id, link_id)
