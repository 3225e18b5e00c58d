"""A small but real OpenID Connect issuer for tests: discovery + JWKS over HTTP on loopback, signing
with the embedded IdP's KeySet (ocis_server.auth.keys). Used until, and beside, the idp service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ocis_server.auth.keys import KeySet


@dataclass
class IssuerStub:
    url: str
    keys: KeySet
    jwks_fetches: int = 0
    discovery_issuer: str | None = None     # set to lie in the discovery document
    extra: dict[str, Any] = field(default_factory=dict)

    def claims(self, sub: str = "", *, aud: str = "web", lifetime: float = 300, **more: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "aud": aud, "sub": sub or str(uuid.uuid4()),
                                  "iat": now, "exp": now + int(lifetime), "jti": uuid.uuid4().hex}
        claims.update(more)
        return claims

    def token(self, sub: str = "", **kw: Any) -> str:
        return self.keys.sign(self.claims(sub, **kw))

    def sign(self, claims: dict[str, Any]) -> str:
        return self.keys.sign(claims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """alg=none: a token anyone can forge."""
    head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}."


def hs256_token(claims: dict[str, Any], secret: bytes, kid: str | None = None) -> str:
    """HS256 keyed with `secret` (e.g. the issuer's public key: the classic confusion attack)."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


@asynccontextmanager
async def serve_issuer(directory: Path) -> AsyncIterator[IssuerStub]:
    keys = await KeySet.open(directory)
    state = IssuerStub(url="", keys=keys)

    async def discovery(_: web.Request) -> web.Response:
        return web.json_response({"issuer": state.discovery_issuer or state.url,
                                  "jwks_uri": state.url + "/jwks.json",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def jwks(_: web.Request) -> web.Response:
        state.jwks_fetches += 1
        return web.json_response(state.keys.jwks())

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/jwks.json", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()
