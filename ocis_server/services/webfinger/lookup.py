"""GET /.well-known/webfinger?resource=...[&rel=...] (RFC 7033 §4).

Anyone learns the OpenID Connect issuer of an `acct:` on this host or of the instance URL; whether
the account exists is not revealed. Only a caller authenticated with an OIDC token, asking about
themself or the instance, also learns the instance serving them (oCIS: "to prevent leaking
information about existing users"). Basic auth does not count, as in oCIS.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.identity import User

from .config import CONFIG_KEY, WebfingerConfig

REL_ISSUER = "http://openid.net/specs/connect/1.0/issuer"
REL_INSTANCE = "http://webfinger.owncloud/rel/server-instance"
JRD = "application/jrd+json"


def _account(resource: str, config: WebfingerConfig) -> str | None:
    """The user part of `acct:user@host` on our host, None for the instance URL; NotFound else."""
    if resource.lower().startswith("acct:"):
        user, sep, host = unquote(resource[5:]).rpartition("@")
        if not sep or not user or host.lower() != config.host:
            raise NotFound("unknown resource")
        return user
    parts = urlsplit(resource)
    if parts.scheme in ("http", "https") and parts.netloc.lower() == config.host:
        return None
    raise NotFound("unknown resource")


_PLACEHOLDER = re.compile(r"\{\{\s*\.([A-Za-z0-9_]+)\s*\}\}")


def instances(config: WebfingerConfig, claims: dict[str, Any]) -> list[dict[str, Any]]:
    """The server-instance links the rules give for these token claims (oCIS semantics)."""
    links: list[dict[str, Any]] = []
    for rule in config.rules:
        value = claims.get(rule.claim)
        if not isinstance(value, str) or len(value) > 512 or not rule.regex.fullmatch(value):
            continue

        def fill(match: re.Match[str]) -> str:
            found = claims.get(match.group(1))
            return quote(found, safe="@.-_") if isinstance(found, str) else ""

        links.append({"rel": REL_INSTANCE, "href": _PLACEHOLDER.sub(fill, rule.href),
                      "titles": dict(rule.titles)})
        if rule.stop:
            break
    return links


def _is_self(caller: Any, account: str | None) -> bool:
    user = getattr(caller, "user", None)
    if getattr(caller, "method", "") != "bearer" or not isinstance(user, User):
        return False
    return account is None or account.lower() in (user.username.lower(), user.email.lower())


async def webfinger(request: web.Request) -> web.Response:
    config = request.app[CONFIG_KEY]
    resources = request.query.getall("resource", [])
    if len(resources) != 1 or not resources[0].strip() or len(resources[0]) > 1024:
        raise BadRequest("exactly one resource parameter is required")
    resource = resources[0].strip()
    account = _account(resource, config)
    links: list[dict[str, Any]] = [{"rel": REL_ISSUER, "href": config.issuer}]
    caller = request.get("caller")
    if _is_self(caller, account):
        links.extend(instances(config, getattr(caller, "claims", None) or {}))
    wanted = request.query.getall("rel", [])
    if wanted:                      # RFC 7033 §4.3: only the requested relations
        links = [link for link in links if link["rel"] in wanted]
    body = {"subject": resource, "links": links}
    return web.json_response(body, content_type=JRD,
                             headers={"Access-Control-Allow-Origin": "*"})
