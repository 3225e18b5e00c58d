"""One aiohttp session per client, with HTTP Basic auth or an OIDC bearer token (refreshed silently,
see `bearer.py`), and the parsing of error bodies.

Every surface module (webdav, graph, ocs) sends through `HttpClient.request`; a non-2xx answer becomes
a typed error from `ocis_cli.client.errors`, its message taken from the DAV XML (`s:message`), OCS
(`meta.message`) or OData (`error.message`) body.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urljoin, urlsplit

import aiohttp
from defusedxml import ElementTree  # type: ignore[import-untyped]
from yarl import URL

from ocis_cli.client.errors import (
    ClientError,
    NetworkError,
    QuotaExceeded,
    ServerError,
    error_for_status,
)

if TYPE_CHECKING:
    from ocis_cli.client.bearer import BearerAuth

_SABRE = "{http://sabredav.org/ns}"
# OCS status codes that travel inside a 200 (v1), and the HTTP status each stands for
# (protocol-notes.md §2).
_OCS_TO_HTTP = {997: 401, 998: 404, 104: 403, 996: 500, 999: 500, 101: 400, 102: 400, 400: 400,
                403: 403, 404: 404, 423: 423}


def parse_error_body(body: bytes, content_type: str) -> tuple[str, str]:
    """(message, code) from an error body in any of the three formats; empty strings when unknown."""
    text = body[:65536]
    if "json" in content_type or text.lstrip().startswith(b"{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return "", ""
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):      # OData / Graph
            err = doc["error"]
            return str(err.get("message", "")), str(err.get("code", ""))
        if isinstance(doc, dict) and isinstance(doc.get("detail"), str):      # go-micro (settings)
            return doc["detail"], str(doc.get("code", ""))
        meta = doc.get("ocs", {}).get("meta") if isinstance(doc, dict) else None
        if isinstance(meta, dict):                                            # OCS json
            return str(meta.get("message") or ""), str(meta.get("statuscode", ""))
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):     # OCM / reva
            return doc["message"], str(doc.get("code", ""))
        return "", ""
    if text.lstrip().startswith(b"<"):
        try:
            root = ElementTree.fromstring(text)
        except Exception:                      # noqa: BLE001 - any parse failure means "no detail"
            return "", ""
        message = root.findtext(f"{_SABRE}message") or root.findtext("meta/message") or ""
        code = root.findtext(f"{_SABRE}exception") or root.findtext("meta/statuscode") or ""
        return message.strip(), code.strip()
    return text.decode("utf-8", "replace").strip()[:300], ""


def error_from_response(status: int, body: bytes, content_type: str, what: str) -> ClientError:
    message, code = parse_error_body(body, content_type)
    if not message:
        message = f"{what}: HTTP {status}"
    if code == "quotaLimitReached":
        return QuotaExceeded(message, status=status, code=code)
    if status == 400 and code in ("401", "403", "404"):
        # oCIS's settings service sends a Forbidden (go-micro code 403) with HTTP 400
        status = int(code)
    return error_for_status(status, message, code)


def ocs_status(doc: Mapping[str, Any]) -> tuple[int, str]:
    """The HTTP status an OCS envelope stands for, and its message (v1 answers 200 for errors)."""
    meta = doc.get("ocs", {}).get("meta", {})
    code = int(meta.get("statuscode", 100))
    if code in (100, 200):
        return 200, ""
    return _OCS_TO_HTTP.get(code, code if 400 <= code < 600 else 500), str(meta.get("message") or "")


def ocs_data(doc: Any, endpoint: str) -> Any:
    """The `data` of an OCS answer to `endpoint`; an OCS error status raises its error."""
    if not isinstance(doc, dict) or "ocs" not in doc:
        raise ServerError(f"OCS {endpoint}: unexpected answer")
    status, message = ocs_status(doc)
    if status != 200:
        raise error_for_status(status, message or f"OCS {endpoint}: status {status}")
    return doc["ocs"].get("data")


class HttpClient:
    """An aiohttp session bound to one server URL and one set of credentials."""

    def __init__(self, base_url: str, *, user: str | None = None, password: str | None = None,
                 bearer: BearerAuth | None = None, insecure: bool = False,
                 timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._auth = (aiohttp.BasicAuth(user, password or "", encoding="utf-8")
                      if user is not None and bearer is None else None)
        self.bearer = bearer
        self._insecure = insecure
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        # Remote spaces registered by URL (`ocis remote add`): drive id -> its WebDAV URL on the
        # other server, learnt from `me/drives`; the bearer token also goes to those origins.
        self.remote_spaces: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        ssl_ctx: ssl.SSLContext | bool = not self._insecure
        self._session = aiohttp.ClientSession(
            auth=self._auth,
            connector=aiohttp.TCPConnector(ssl=ssl_ctx),
            # A transfer may take long: only connecting and each read are bounded.
            timeout=aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_read=self._timeout),
            headers={"User-Agent": "ocis-py-cli"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> str:
        """An absolute URL for a server path (already quoted)."""
        return urljoin(self.base_url, path.lstrip("/"))

    @asynccontextmanager
    async def stream(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                     data: Any = None, params: Mapping[str, str] | None = None,
                     ok: tuple[int, ...] = ()) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request and yield the response unread; non-2xx (not in `ok`) raises a typed error."""
        if self._session is None:
            raise RuntimeError("HttpClient used outside `async with`")
        url = self.url(path)
        try:
            for attempt in (1, 2):
                sent, all_headers = await self._with_token(url, headers)
                # encoded=True: send the path exactly as quoted here (yarl would turn %24 back).
                async with self._session.request(method, URL(url, encoded=True),
                                                 headers=all_headers, data=data,
                                                 params=params, allow_redirects=False) as resp:
                    if (resp.status == 401 and attempt == 1 and sent and self.bearer is not None
                            and _replayable(data)
                            and await self.bearer.refresh(self._session, stale=sent)):
                        continue               # the token was revoked or expired early: once more
                    if not (200 <= resp.status < 300 or resp.status in ok):
                        body = await resp.read()
                        raise error_from_response(resp.status, body, resp.content_type,
                                                  f"{method} {path}")
                    yield resp
                    return
        except aiohttp.ClientConnectionError as exc:
            raise NetworkError(f"cannot reach {self.base_url}: {exc}") from exc
        except TimeoutError as exc:
            raise NetworkError(f"timed out talking to {self.base_url}") from exc

    async def _with_token(self, url: str, headers: Mapping[str, str] | None
                          ) -> tuple[str, Mapping[str, str] | None]:
        """(the access token sent, the headers): the token goes to this server's origin only,
        never to a host a Location header or a redirect names."""
        if self.bearer is None or self._session is None or not (
                _same_origin(url, self.base_url)
                or any(_same_origin(url, r) and url.startswith(r)
                       for r in self.remote_spaces.values())):
            return "", headers
        value = await self.bearer.header(self._session)
        return value.removeprefix("Bearer "), {**(headers or {}), "Authorization": value}

    async def access_token(self) -> str:
        """The current OIDC access token, refreshed first if it is about to expire ("" for Basic)."""
        if self.bearer is None or self._session is None:
            return ""
        return (await self.bearer.header(self._session)).removeprefix("Bearer ")

    async def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                      data: Any = None, params: Mapping[str, str] | None = None,
                      ok: tuple[int, ...] = ()) -> tuple[int, Mapping[str, str], bytes]:
        """Send a request and read the whole body: (status, headers, body)."""
        async with self.stream(method, path, headers=headers, data=data, params=params,
                               ok=ok) as resp:
            body = await resp.read()
            return resp.status, resp.headers, body

    async def json(self, method: str, path: str, *, body: Any = None,
                   params: Mapping[str, str] | None = None) -> Any:
        """Send (optionally) JSON and parse the JSON answer (None for an empty body)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        _, _, raw = await self.request(method, path, headers=headers, data=data, params=params)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ServerError(f"{method} {path}: the server sent invalid JSON", status=200) from exc


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _replayable(data: Any) -> bool:
    """A body that can be sent a second time (not a stream already consumed)."""
    return data is None or isinstance(data, bytes | bytearray | str | Mapping)
