"""Helpers for the in-process IdP tests: the IdP mounted in the real proxy app over a builtin user
store, and a small browser that fills the IdP's forms as a person would."""

from __future__ import annotations

import base64
import hashlib
import html.parser
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc.jwk import RSAKey
from kit import open_driver

from ocis_server.config import load_config
from ocis_server.runtime.proxy import build_app
from ocis_server.runtime.units import Unavailable
from ocis_server.services import by_name
from ocis_server.services.context import ServiceContext
from ocis_server.services.idp.app import create_app

ISSUER = "http://idp.test:9200"
LOOPBACK = "http://127.0.0.1:53682/callback"


class Forms(html.parser.HTMLParser):
    """<form action> with its <input name value>s and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": d.get("action", ""), "id": d.get("id", ""), "fields": {}})
        elif tag == "input" and self.forms and d.get("name"):
            self.forms[-1]["fields"][d["name"]] = d.get("value", "")


def forms(text: str) -> dict[str, dict[str, Any]]:
    parser = Forms()
    parser.feed(text)
    return {f["id"]: f for f in parser.forms}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def query_of(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


_KEY_PEM: list[bytes] = []


def seed_signing_key(data_dir: Path) -> None:
    """Reuse one RSA key across tests (generating one per test costs a few hundred ms)."""
    if not _KEY_PEM:
        _KEY_PEM.append(RSAKey.generate_key(2048, private=True).as_pem(private=True))
    (data_dir / "idp").mkdir(parents=True, exist_ok=True)
    (data_dir / "idp" / "private-key.pem").write_bytes(_KEY_PEM[0])
    (data_dir / "idp" / "private-key.pem").chmod(0o600)


async def make_context(tmp_path: Path, **env: str) -> ServiceContext:
    """The IdP's context: config under tmp_path, users in the memory identity driver (no scrypt:
    a sign-in costs microseconds), no storage."""
    seed_signing_key(tmp_path / "data")
    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path / "config"),
                          "OCIS_BASE_DATA_PATH": str(tmp_path / "data"), "OCIS_URL": ISSUER,
                          **env})
    users = await open_driver("memory", tmp_path / "data" / "idm" / "users.db")
    return ServiceContext(config, cast(Any, Unavailable("storage-users")), users)


def idp_root(ctx: ServiceContext):  # type: ignore[no-untyped-def]
    spec = by_name()["idp"]
    return build_app(ctx, [(spec, mount, create_app(ctx, mount)) for mount in spec.mounts])


@dataclass
class Flow:
    """One authorization request, driven through the pages like a browser."""

    client: Any                                   # aiohttp TestClient
    client_id: str = "ocis-cli"
    redirect_uri: str = LOOPBACK
    scope: str = "openid profile email offline_access"
    extra: dict[str, str] = field(default_factory=dict)
    verifier: str = ""
    state: str = ""

    def authorize_url(self) -> str:
        self.verifier, challenge = pkce()
        self.state = secrets.token_urlsafe(8)
        params = {"client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "response_type": "code", "scope": self.scope, "state": self.state,
                  "nonce": "n-0S6", "code_challenge": challenge,
                  "code_challenge_method": "S256", **self.extra}
        return "/signin/v1/identifier/_/authorize?" + urlencode(params)

    async def login(self, username: str, password: str, start: str | None = None) -> Any:
        """GET the start page, submit the login form; returns the response to the POST."""
        page = await self.client.get(start or self.authorize_url(), allow_redirects=False)
        assert page.status == 200, await page.text()
        form = forms(await page.text())["login"]
        data = {**form["fields"], "username": username, "password": password}
        return await self.client.post(form["action"], data=data, allow_redirects=False)

    async def code(self, username: str = "einstein", password: str = "relativity") -> str:
        """Follow the IdP's pages (sign in if asked, allow if asked) until the redirect URI
        carries a code."""
        resp = await self.client.get(self.authorize_url(), allow_redirects=False)
        for _ in range(4):
            if resp.status in (302, 303) and resp.headers["Location"].startswith(self.redirect_uri):
                break
            if resp.status in (302, 303):
                resp = await self.client.get(resp.headers["Location"], allow_redirects=False)
                continue
            assert resp.status == 200, await resp.text()
            page = forms(await resp.text())
            if "login" in page:
                data = {**page["login"]["fields"], "username": username, "password": password}
                resp = await self.client.post(page["login"]["action"], data=data,
                                              allow_redirects=False)
            else:
                form = page["consent"]
                resp = await self.client.post(form["action"],
                                              data={**form["fields"], "decision": "allow"},
                                              allow_redirects=False)
        location = resp.headers["Location"]
        assert location.startswith(self.redirect_uri)
        query = query_of(location)
        assert query["state"] == self.state and query["iss"] == ISSUER
        return query["code"]

    async def exchange(self, code: str, *, status: int = 200, **extra: str) -> dict[str, Any]:
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, "client_id": self.client_id,
                "code_verifier": self.verifier, **extra}
        resp = await self.client.post("/konnect/v1/token", data=data)
        assert resp.status == status, await resp.text()
        return cast(dict[str, Any], await resp.json())
