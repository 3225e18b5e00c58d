"""The one outbound OCM client: every request this server makes to another OCM server goes
through `OcmClient`, and it only ever contacts an origin the providers file names.

Guards, each a clear `PeerError` (502, or 403 for a destination that is not listed):
- the URL's scheme, host and port must be one of the listed provider's endpoints (providers.py);
  nothing a peer sends (its discovery `endPoint`, a share's `uri`) can widen that;
- https, unless the `insecure` setting of the calling part (OCM_OCM_*_INSECURE) allows plain http,
  and then only to a loopback address (a test or development federation on one machine);
- a connect time-out and a total time-out (OCM_CLIENT_CONNECT_TIMEOUT, OCM_CLIENT_TIMEOUT);
- at most OCM_CLIENT_MAX_RESPONSE_SIZE bytes of answer (counted after decompression);
- no redirect is followed (a 3xx is an error), no proxy from the environment is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ocis_server.domain.errors import OcisError

from .providers import Provider, Providers

log = logging.getLogger("ocis.ocm")
USER_AGENT = "ocis-python OCM client"
_CHUNK = 64 * 1024


class PeerError(OcisError):
    """A remote OCM server could not be reached, or answered something we refuse."""

    status = 502
    code = "peerError"


class PeerRefused(PeerError):
    """The destination is not one this server may contact."""

    status = 403
    code = "peerNotAllowed"


@dataclass(frozen=True, slots=True)
class PeerResponse:
    domain: str                  # the provider that answered
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise PeerError(f"{self.domain} answered {self.status} with a body that is not "
                            "JSON") from None


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OcmClient:
    """Bounded requests to the providers in `providers`. `insecure` is the OCM_OCM_*_INSECURE
    setting of the part of the service this client works for."""

    def __init__(self, providers: Providers, *, insecure: bool = False,
                 connect_timeout: float = 5.0, timeout: float = 15.0,
                 max_response_size: int = 1024 * 1024, per_host: int = 8) -> None:
        self.providers = providers
        self.per_host = per_host           # connections per peer at once (0: as many as asked)
        self.insecure = insecure
        self.max_response_size = max_response_size
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout,
                                              sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    def check(self, provider: Provider, url: str) -> None:
        self._check(provider, url)

    def _check(self, provider: Provider, url: str) -> None:
        """PeerRefused unless `url` is on a listed origin of `provider`, over an allowed scheme."""
        if not provider.owns(url):
            raise PeerRefused(f"{url!r} is not an endpoint of {provider.domain} in the providers "
                              f"file ({self.providers.path.name})")
        parts = urlsplit(url)
        if parts.scheme == "http" and not (self.insecure and _loopback(parts.hostname or "")):
            raise PeerRefused(f"plain http to {parts.netloc} is refused: OCM peers are reached "
                              "over https (OCM_OCM_*_INSECURE=true allows http to a loopback "
                              "address, for tests)")

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ssl_setting: ssl.SSLContext | bool = False if self.insecure else ssl.create_default_context()
            connector = aiohttp.TCPConnector(ssl=ssl_setting, limit=32 if self.per_host else 0,
                                            limit_per_host=self.per_host)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  trust_env=False,
                                                  headers={"User-Agent": USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, provider: Provider, method: str, url: str,
                      body: Any = None) -> PeerResponse:
        """One request to `url` at `provider` (a JSON `body` if given), bounded as above."""
        return await self.send(provider, method, url, headers={"Accept": "application/json"},
                               json_body=body)

    async def send(self, provider: Provider, method: str, url: str, *,
                   headers: dict[str, str], data: bytes | None = None,
                   json_body: Any = None) -> PeerResponse:
        """One request with these headers and body (`data` bytes or `json_body`), bounded."""
        self._check(provider, url)
        try:
            async with self._client().request(
                    method, url, json=json_body, data=data, allow_redirects=False,
                    headers=headers) as resp:
                if 300 <= resp.status < 400:
                    raise PeerError(f"{provider.domain} answered {resp.status} (a redirect, "
                                    "which OCM peers may not use): not followed")
                data = await self._read(resp, provider)
                return PeerResponse(provider.domain, resp.status, data, resp.content_type)
        except asyncio.TimeoutError:
            raise PeerError(f"{provider.domain} did not answer in time") from None
        except aiohttp.ClientError as exc:
            log.info("OCM request to %s failed: %s", url, exc)
            raise PeerError(f"{provider.domain} cannot be reached ({exc.__class__.__name__})") \
                from None

    async def _read(self, resp: aiohttp.ClientResponse, provider: Provider) -> bytes:
        limit = self.max_response_size
        if resp.content_length is not None and resp.content_length > limit:
            raise PeerError(f"{provider.domain} answered with {resp.content_length} bytes, more "
                            f"than the {limit} accepted")
        data = bytearray()
        while True:
            chunk = await resp.content.read(_CHUNK)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > limit:
                raise PeerError(f"{provider.domain} answered with more than the {limit} bytes "
                                "accepted")

    @contextlib.asynccontextmanager
    async def stream(self, provider: Provider, method: str, url: str, *,
                     headers: dict[str, str], data: AsyncIterator[bytes] | None,
                     read_timeout: float) -> AsyncIterator[aiohttp.ClientResponse]:
        """A request whose bodies stream (WebDAV file transfers through a remote space): the
        same destination checks, no redirect followed, a connect time-out and `read_timeout`
        seconds at most between two reads, but no cap on the size or total time: the caller
        streams the answer on. Time-outs and connection errors are left to the caller."""
        self._check(provider, url)
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout.connect,
                                        sock_connect=self._timeout.sock_connect,
                                        sock_read=read_timeout)
        async with self._client().request(method, url, data=data, headers=headers,
                                          allow_redirects=False, timeout=timeout,
                                          auto_decompress=False) as resp:
            yield resp
