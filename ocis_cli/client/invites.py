"""OCM invitations through oCIS's `/sciencemesh` endpoints (protocol-notes.md §14): make and list
invitation tokens, accept another server's invitation, list and forget federated contacts."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ocis_cli.client.errors import ServerError
from ocis_cli.client.http import HttpClient

_BASE = "/sciencemesh"


@dataclass(frozen=True, slots=True)
class Invitation:
    token: str
    description: str
    expiration: int           # unix seconds
    recipient: str
    provider_domain: str = ""   # the inviting server's OCM domain (from `invite_link`)

    @classmethod
    def from_json(cls, obj: Any) -> Invitation:
        if not isinstance(obj, dict) or not isinstance(obj.get("token"), str):
            raise ServerError("the server sent an invitation without a token", status=200)
        expiration = obj.get("expiration")
        return cls(token=obj["token"], description=str(obj.get("description") or ""),
                   expiration=expiration if isinstance(expiration, int) else 0,
                   recipient=str(obj.get("recipient") or ""),
                   provider_domain=_provider_domain(obj.get("invite_link")))


def _provider_domain(link: object) -> str:
    """reva's invite link ends `?token=..&providerDomain=<domain>`."""
    if not isinstance(link, str):
        return ""
    values = parse_qs(urlsplit(link).query).get("providerDomain", [])
    return values[0] if values else ""


@dataclass(frozen=True, slots=True)
class Contact:
    """A remote user one exchanged an invitation with."""

    display_name: str
    provider: str             # `idp`: their OCM domain
    user_id: str              # oCIS's federated id (base64 of `<remote id>@<provider>`)
    mail: str

    @classmethod
    def from_json(cls, obj: Any) -> Contact:
        if not isinstance(obj, dict) or not isinstance(obj.get("user_id"), str):
            raise ServerError("the server sent a contact without a user_id", status=200)
        return cls(display_name=str(obj.get("display_name") or ""),
                   provider=str(obj.get("idp") or ""), user_id=obj["user_id"],
                   mail=str(obj.get("mail") or ""))

    @property
    def address(self) -> str:
        """The federated address `<remote id>@<provider>` the id stands for."""
        try:
            return base64.b64decode(self.user_id, validate=True).decode()
        except (binascii.Error, UnicodeError, ValueError):
            return f"{self.user_id}@{self.provider}"

    def to_json(self) -> dict[str, str]:
        return {"display_name": self.display_name, "idp": self.provider, "user_id": self.user_id,
                "mail": self.mail, "address": self.address}


class Invites:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def create(self, description: str = "", recipient: str = "") -> Invitation:
        body = {k: v for k, v in (("description", description), ("recipient", recipient)) if v}
        return Invitation.from_json(
            await self._http.json("POST", f"{_BASE}/generate-invite", body=body))

    async def tokens(self) -> list[Invitation]:
        body = await self._http.json("GET", f"{_BASE}/list-invite")
        if not isinstance(body, list):
            raise ServerError("the server sent no list of invitations", status=200)
        return [Invitation.from_json(item) for item in body]

    async def accept(self, token: str, provider_domain: str) -> Contact | None:
        """Accept the invitation `token` made at `provider_domain`; the inviter, when told."""
        body = await self._http.json("POST", f"{_BASE}/accept-invite",
                                     body={"token": token, "providerDomain": provider_domain})
        return Contact.from_json(body) if isinstance(body, dict) and body.get("user_id") else None

    async def contacts(self) -> list[Contact]:
        body = await self._http.json("GET", f"{_BASE}/find-accepted-users")
        if not isinstance(body, list):
            raise ServerError("the server sent no list of accepted users", status=200)
        return [Contact.from_json(item) for item in body]

    async def forget(self, contact: Contact) -> None:
        await self._http.json("DELETE", f"{_BASE}/delete-accepted-user",
                              body={"idp": contact.provider, "user_id": contact.user_id})
