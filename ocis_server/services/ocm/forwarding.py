"""Remote spaces: paris forwards the WebDAV traffic of an accepted federated share to the
sharer's WebDAV URI of that share, with the shared secret as bearer, through the one client (so
only to an origin the providers file lists for the share's provider; no redirect followed).

Bodies stream both ways (never a whole file in memory); hrefs of a multistatus and the
`Destination` of MOVE/COPY are rewritten between paris's `/dav/spaces/<id>/` and the sharer's
URI; the sharer's refusals pass through as they are (its 403 stays a 403), except its 401 (the
secret no longer works), which becomes a 403: Marie's paris login is not what failed. A sharer
that cannot be reached is a 502, one that does not answer in time a 504 (`PeerError`s, which the
WebDAV front end renders as DAV error bodies). `status` asks the sharer whether it answers for
the share (a depth-0 PROPFIND, bounded, remembered a few seconds) for the space listings.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote, urljoin, urlsplit

import aiohttp
from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.services.context import RemoteStatus
from ocis_server.sharing import federated
from ocis_server.storage import RemoteShare

from .client import OcmClient, PeerError, PeerRefused, log
from .discovery import discover
from .providers import Provider, Providers
from .remoteuploads import RemoteUploads

_CHUNK = 64 * 1024
_STATUS_TTL = 5.0           # seconds a sharer's answer (or silence) is remembered for listings
# What passes from Marie's request to the sharer: never her Authorization or cookies.
_REQUEST_HEADERS = (
    "Accept", "Content-Type", "Content-Length", "Content-Range", "Depth", "Overwrite",
    "Destination", "If", "If-Match", "If-None-Match", "If-Modified-Since",
    "If-Unmodified-Since", "Range", "If-Range", "Lock-Token", "Timeout", "OC-Checksum",
    "OC-Total-Length", "X-OC-Mtime", "OC-Chunked", "Tus-Resumable", "Upload-Length",
    "Upload-Offset", "Upload-Metadata", "Upload-Checksum", "Brief", "Prefer")
# What passes back from the sharer's answer.
_RESPONSE_HEADERS = (
    "Content-Type", "Content-Length", "Content-Range", "Content-Disposition", "Accept-Ranges",
    "Content-Encoding",
    "ETag", "OC-ETag", "OC-FileId", "OC-Checksum", "X-OC-MTime", "Last-Modified", "DAV",
    "Allow", "Lock-Token", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
    "Upload-Offset", "Upload-Length", "Upload-Expires", "Retry-After")
# What passes to the sharer's TUS upload URL (its token is the credential).
_UPLOAD_HEADERS = ("Content-Type", "Content-Length", "Tus-Resumable", "Upload-Offset",
                   "Upload-Checksum", "Upload-Length")
_ETAG = re.compile(rb"<(?:[\w-]+:)?getetag>([^<]{1,200})</(?:[\w-]+:)?getetag>")
_PROPFIND_ETAG = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/>'
                  b"</d:prop></d:propfind>")


class PeerTimeout(PeerError):
    status = 504
    code = "peerTimeout"


class RemoteSpaceGateway:
    """The `RemoteSpaces` of the service context, served by the ocm service."""

    def __init__(self, providers: Providers, client: OcmClient, stream_timeout: float) -> None:
        self.providers = providers
        self.client = client
        self.stream_timeout = stream_timeout
        self._status: dict[str, tuple[float, RemoteStatus]] = {}
        self.uploads = RemoteUploads()

    async def target(self, share: RemoteShare) -> str:
        """The sharer's WebDAV URL of the share's root, with a trailing slash: its `uri` when
        absolute, else the `uri` below the WebDAV root the sharer's discovery names."""
        provider = self._provider(share)
        if urlsplit(share.uri).scheme:
            base = share.uri
        else:
            root = (await discover(self.client, provider)).webdav_root
            base = root.rstrip("/") + "/" + share.uri.lstrip("/")
        if not provider.owns(base):
            raise PeerRefused(f"the share's WebDAV URI is not at {provider.domain}")
        return base.rstrip("/") + "/"

    def _provider(self, share: RemoteShare) -> Provider:
        """The share's provider, while the providers file still lists it (else 403: nothing
        is sent to a provider that is no longer trusted)."""
        provider = self.providers.find(share.provider)
        if provider is None:
            raise PeerRefused(f"{share.provider} is no longer a trusted OCM provider (not listed "
                              f"in {self.providers.path.name})")
        return provider

    # --- listings ---------------------------------------------------------------------------

    async def status(self, share: RemoteShare) -> RemoteStatus:
        now = time.monotonic()
        known = self._status.get(share.id)
        if known is not None and now - known[0] < _STATUS_TTL:
            return known[1]
        found = await self._ask(share)
        if len(self._status) > 4096:
            self._status.clear()
        self._status[share.id] = (now, found)
        return found

    def forget(self, share_id: str) -> None:
        """Drop the remembered answer: the share's event stream (subscriptions.py) saw the
        sharer change, come back or go away, so the next listing asks again."""
        self._status.pop(share_id, None)

    async def _ask(self, share: RemoteShare) -> RemoteStatus:
        try:
            url = await self.target(share)
            answer = await self.client.send(
                self._provider(share), "PROPFIND", url,
                headers={"Depth": "0", "Authorization": f"Bearer {share.secret}",
                         "Content-Type": "application/xml"}, data=_PROPFIND_ETAG)
        except PeerError as exc:
            return RemoteStatus(False, exc.message)
        if answer.status in (401, 403, 404):
            return RemoteStatus(False, f"{share.provider} no longer grants access to this share "
                                       f"({answer.status})")
        if answer.status != 207:
            return RemoteStatus(False, f"{share.provider} answered {answer.status}")
        match = _ETAG.search(answer.body)
        etag = match.group(1).decode("utf-8", "replace").replace("&quot;", '"') if match else ""
        federated.remember_etag(share.id, etag)
        return RemoteStatus(True, "", etag=etag)

    # --- WebDAV traffic ---------------------------------------------------------------------

    async def forward(self, request: web.Request, share: RemoteShare, path: str,
                      mount: str) -> web.StreamResponse:
        """Send `request` (for `path`, still percent-encoded, below the space mounted at the
        local URL path `mount`) to the sharer and stream its answer back."""
        if any(unquote(part) in ("..", ".") for part in path.split("/")):
            raise BadRequest("a path may not climb out of its space")
        base = await self.target(share)
        provider = self._provider(share)
        url = base + path.lstrip("/")
        if request.query_string:
            url += "?" + request.query_string
        headers = {name: request.headers[name] for name in _REQUEST_HEADERS
                   if name in request.headers}
        headers["Authorization"] = f"Bearer {share.secret}"
        headers["Accept-Encoding"] = "identity"     # hrefs are rewritten on the plain bytes
        if "Destination" in headers:
            headers["Destination"] = _destination(headers["Destination"], mount, base)
        body = _request_body(request) if request.can_read_body else None
        self.client.check(provider, url)
        try:
            async with self.client.stream(provider, request.method, url, headers=headers,
                                          data=body, read_timeout=self.stream_timeout) as resp:
                return await self._answer(request, resp, share, base, mount)
        except asyncio.TimeoutError:
            raise PeerTimeout(f"{share.provider} did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise PeerError(f"{share.provider} cannot be reached "
                            f"({exc.__class__.__name__})") from None

    async def put(self, request: web.Request, share: RemoteShare, path: str,
                  headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        """PUT the request's body (streamed) as the file `path` of the space: how a TUS upload
        sent whole in its creation request reaches the sharer. (status, answer headers)."""
        status, answer, _ = await self._send_body(request, share, "PUT", path, headers, True)
        return status, answer

    async def create_upload(self, request: web.Request, share: RemoteShare, folder: str,
                            headers: dict[str, str],
                            user_id: str) -> tuple[int, dict[str, str], str]:
        """POST a TUS creation into the folder `folder` of the space (a body sent along with
        it streams on): (status, answer headers, id of the upload here, "" when the sharer
        gave no upload URL, e.g. for a finished or refused upload). The sharer's `Location`
        is kept server side (remoteuploads.py) only when it lies on the provider's origins."""
        status, answer, location = await self._send_body(
            request, share, "POST", folder, headers, request.body_exists)
        if status != 201 or not location:
            return status, answer, ""
        provider = self._provider(share)
        if not urlsplit(location).scheme:                   # relative: on the sharer's origin
            location = urljoin(await self.target(share), location)
        if not provider.owns(location):
            raise PeerRefused(f"{share.provider} named an upload URL that is not at "
                              f"{provider.domain}")
        upload_id = self.uploads.add(user_id, share.id, location,
                                     answer.get("Upload-Expires", ""))
        return status, answer, upload_id

    def upload_share(self, upload_id: str, user_id: str) -> str | None:
        """The share id an upload created here by `user_id` goes into; None when unknown."""
        entry = self.uploads.get(upload_id, user_id)
        return entry.share_id if entry is not None else None

    async def forward_upload(self, request: web.Request, share: RemoteShare, upload_id: str,
                             user_id: str) -> web.StreamResponse:
        """HEAD, PATCH or DELETE of an upload created through `create_upload`, sent to the
        sharer's upload URL (whose token is its credential: no secret goes along)."""
        entry = self.uploads.get(upload_id, user_id)
        if entry is None or entry.share_id != share.id:
            raise NotFound("upload session not found")
        provider = self._provider(share)
        self.client.check(provider, entry.url)
        headers = {name: request.headers[name] for name in _UPLOAD_HEADERS
                   if name in request.headers}
        body = _request_body(request) if request.can_read_body else None
        try:
            async with self.client.stream(provider, request.method, entry.url, headers=headers,
                                          data=body, read_timeout=self.stream_timeout) as resp:
                if 300 <= resp.status < 400:
                    raise PeerError(f"{share.provider} answered {resp.status} (a redirect): "
                                    "not followed")
                if request.method == "DELETE" or resp.status in (404, 410):
                    self.uploads.forget(upload_id)
                return await self._answer(request, resp, share, "", "")
        except asyncio.TimeoutError:
            raise PeerTimeout(f"{share.provider} did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise PeerError(f"{share.provider} cannot be reached "
                            f"({exc.__class__.__name__})") from None

    async def _send_body(self, request: web.Request, share: RemoteShare, method: str, path: str,
                         headers: dict[str, str],
                         with_body: bool) -> tuple[int, dict[str, str], str]:
        """`method` on `path` of the space with the request's body streamed along (if
        `with_body`): (status, answer headers, the answer's Location)."""
        if any(unquote(part) in ("..", ".") for part in path.split("/")):
            raise BadRequest("a path may not climb out of its space")
        base = await self.target(share)
        provider = self._provider(share)
        url = base + path.lstrip("/")
        sent = {**headers, "Authorization": f"Bearer {share.secret}"}
        try:
            async with self.client.stream(provider, method, url, headers=sent,
                                          data=_request_body(request) if with_body else None,
                                          read_timeout=self.stream_timeout) as resp:
                if 300 <= resp.status < 400:
                    raise PeerError(f"{share.provider} answered {resp.status} (a redirect): "
                                    "not followed")
                await resp.content.read(_CHUNK)          # the answer body says nothing more
                return (403 if resp.status == 401 else resp.status,
                        {n: resp.headers[n] for n in _RESPONSE_HEADERS if n in resp.headers},
                        resp.headers.get("Location", ""))
        except asyncio.TimeoutError:
            raise PeerTimeout(f"{share.provider} did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise PeerError(f"{share.provider} cannot be reached "
                            f"({exc.__class__.__name__})") from None

    async def _answer(self, request: web.Request, resp: aiohttp.ClientResponse,
                      share: RemoteShare, base: str, mount: str) -> web.StreamResponse:
        if 300 <= resp.status < 400:
            raise PeerError(f"{share.provider} answered {resp.status} (a redirect): not followed")
        status = 403 if resp.status == 401 else resp.status
        out = web.StreamResponse(status=status, reason=None if status != resp.status else
                                 resp.reason)
        for name in _RESPONSE_HEADERS:
            if name in resp.headers:
                out.headers[name] = resp.headers[name]
        rewrite = (resp.status == 207 and "xml" in resp.headers.get("Content-Type", "")
                   and resp.headers.get("Content-Encoding", "identity") == "identity")
        if rewrite:
            out.headers.pop("Content-Length", None)      # hrefs change the length
        await out.prepare(request)
        if request.method == "HEAD":
            await out.write_eof()
            return out
        chunks: AsyncIterator[bytes] = resp.content.iter_chunked(_CHUNK)
        if rewrite:
            chunks = _rewritten(chunks, _href_prefixes(base), _local_prefix(mount))
        try:
            async for chunk in chunks:
                await out.write(chunk)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            # The status line is sent: all that is left is to cut the answer short, so that the
            # client sees an incomplete body, never a truncated file taken for a whole one.
            log.info("remote space %s: %s broke off mid-answer (%s)", share.id, share.provider,
                     exc.__class__.__name__)
            if request.transport is not None:
                request.transport.close()
            return out
        await out.write_eof()
        return out


async def _request_body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(_CHUNK):
        yield chunk


def _local_prefix(mount: str) -> bytes:
    """Hrefs name the space as the client spelled it in the request (already encoded), so a
    percent-decoded href starts with the decoded request path (what sync clients check)."""
    return (mount.rstrip("/") + "/").encode()


def _href_prefixes(base: str) -> list[bytes]:
    """How the sharer may write the share root in an href: as a full URL or as its path."""
    parts = urlsplit(base)
    path = parts.path.encode()
    full = f"{parts.scheme}://{parts.netloc}".encode() + path
    return [full, path, path.replace(b"$", b"%24")]


async def _rewritten(chunks: AsyncIterator[bytes], remote: list[bytes],
                     local: bytes) -> AsyncIterator[bytes]:
    """The multistatus with every `<d:href>` under the sharer's share root moved under ours.
    Streamed: only the bytes from an href that is not closed yet (or a tag cut in two) on are
    held back for the next chunk."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        opened = max((m.start() for m in _HREF_OPEN.finditer(pending)), default=-1)
        closed = max((m.start() for m in _HREF_CLOSE.finditer(pending)), default=-1)
        if opened > closed:
            cut = opened                             # inside an href: keep it whole
        else:
            cut = max(pending.rfind(b"<"), 0)        # a tag may be cut in two
        if len(pending) - cut > _MAX_HELD:
            cut = len(pending)                       # no href is that long: let it pass
        if cut:
            yield _rewrite_hrefs(pending[:cut], remote, local)
            pending = pending[cut:]
    if pending:
        yield _rewrite_hrefs(pending, remote, local)


_MAX_HELD = 64 * 1024
_HREF_OPEN = re.compile(rb"<(?:[\w-]+:)?href>")
_HREF_CLOSE = re.compile(rb"</(?:[\w-]+:)?href>")
_HREF = re.compile(rb"(<(?:[\w-]+:)?href>)([^<]*)(</(?:[\w-]+:)?href>)")


def _rewrite_hrefs(data: bytes, remote: list[bytes], local: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        href = match.group(2)
        for prefix in remote:
            if href.startswith(prefix) or href + b"/" == prefix:
                href = local + href[len(prefix):]
                break
        return match.group(1) + href + match.group(3)
    return _HREF.sub(one, data)


def _destination(value: str, mount: str, base: str) -> str:
    """The `Destination` of a MOVE or COPY inside the remote space, as the sharer's URL; a
    destination anywhere else cannot be reached from there (RFC 4918 §9.9.4: 502)."""
    path = unquote(urlsplit(value).path if "://" in value else value)
    prefix = unquote(mount).rstrip("/") + "/"
    if not path.startswith(prefix):
        raise PeerError("the destination is not in the same remote space")
    rest = path[len(prefix):]
    if any(part in ("..", ".") for part in rest.split("/")):
        raise BadRequest("a destination may not climb out of its space")
    return base + quote(rest, safe="/")
