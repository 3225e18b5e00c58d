"""App tokens through the auth-app API (`/auth-app/tokens`, protocol-notes.md §10): create, list, revoke.
A token is the HTTP Basic password for clients without OpenID Connect (PROXY_ENABLE_APP_AUTH)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocis_cli.client.errors import ServerError
from ocis_cli.client.http import HttpClient

_PATH = "/auth-app/tokens"


@dataclass(frozen=True, slots=True)
class AppTokenInfo:
    token: str            # the clear token right after creation; its hash when listed
    label: str
    created: str          # ISO 8601 UTC
    expires: str

    @classmethod
    def from_json(cls, obj: Any) -> AppTokenInfo:
        if not isinstance(obj, dict) or not isinstance(obj.get("token"), str):
            raise ServerError("the server sent an app token without a token", status=200)
        return cls(token=obj["token"], label=str(obj.get("label", "")),
                   created=str(obj.get("created_date", "")),
                   expires=str(obj.get("expiration_date", "")))

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "label": self.label, "created_date": self.created,
                "expiration_date": self.expires}


class AppTokens:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    @staticmethod
    def _params(user_name: str | None, **more: str) -> dict[str, str]:
        params = {k: v for k, v in more.items() if v}
        if user_name:
            params["userName"] = user_name
        return params

    async def create(self, expiry: str, *, user_name: str | None = None,
                     label: str | None = None) -> AppTokenInfo:
        """A new token valid for `expiry` (Go duration: 72h, 30m); admins may name another user."""
        body = await self._http.json("POST", _PATH,
                                     params=self._params(user_name, expiry=expiry, label=label or ""))
        return AppTokenInfo.from_json(body)

    async def list(self, *, user_name: str | None = None) -> list[AppTokenInfo]:
        body = await self._http.json("GET", _PATH, params=self._params(user_name))
        if not isinstance(body, list):
            raise ServerError("the server sent no list of app tokens", status=200)
        return [AppTokenInfo.from_json(item) for item in body]

    async def delete(self, token: str, *, user_name: str | None = None) -> None:
        """Revoke by the clear token or by the hash `list` shows."""
        await self._http.request("DELETE", _PATH, params=self._params(user_name, token=token))
