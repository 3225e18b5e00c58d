"""The trusted OCM providers: oCIS's `ocmproviders.json` (OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE),
read here and nowhere else.

The file is a JSON array of providers, each `{name, full_name, organization, domain, homepage,
description, services: [{endpoint: {type: {name: "OCM" | "Webdav"}, name, path, is_monitored},
api_version, host}]}` (oCIS `services/ocm/README.md`). `domain` is the provider's identity (the part
after `@` of its users' federated addresses, no scheme); the `path` of its OCM and Webdav endpoints
are the only URLs of that provider this server ever contacts.

The list is an allow-list anchored on the whole domain: `paris.test` matches `paris.test` (any
case, one trailing dot) and nothing else, not `evilparis.test`, `paris.test.evil` nor
`x.paris.test`. The file is read again when it changes on disk, so a provider can be added or
removed without a restart.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ocis_server.domain.errors import BadRequest

log = logging.getLogger("ocis.ocm")

MAX_FILE_SIZE = 4 * 1024 * 1024
# A DNS name (labels of letters, digits, hyphens) or an IPv4 address, optionally with a port.
_DOMAIN = re.compile(r"(?=.{1,253}(:\d{1,5})?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                     r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ProvidersFileError(ValueError):
    """The providers file cannot be read or does not have the ocmproviders.json shape."""


def normalize_domain(value: str) -> str | None:
    """The canonical form of a domain (lower case, no trailing dot), None if it is not one: no
    scheme, path, user info, wildcard or white space is accepted."""
    domain = value.strip().lower()
    if domain.endswith("."):
        domain = domain[:-1]
    return domain if _DOMAIN.fullmatch(domain) else None


def origin(url: str) -> str | None:
    """`scheme://host:port` of an absolute http(s) URL (the port made explicit), None for anything
    else (a relative URL, user info, another scheme, a bad port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port or _DEFAULT_PORTS[parts.scheme]}"


@dataclass(frozen=True, slots=True)
class Provider:
    domain: str                  # identity, canonical (normalize_domain)
    name: str
    full_name: str
    organization: str
    ocm_url: str                 # the OCM API endpoint as listed, e.g. https://cloud.paris.test/ocm/
    webdav_url: str              # the Webdav endpoint as listed ("" when none)
    origins: frozenset[str]      # every scheme://host:port the file names for it: all we may contact

    @property
    def base_url(self) -> str:
        """Where its discovery document lives: the origin of its OCM endpoint, as written."""
        parts = urlsplit(self.ocm_url)
        return f"{parts.scheme}://{parts.netloc}"

    def owns(self, url: str) -> bool:
        """True when `url` is on one of this provider's listed origins."""
        found = origin(url)
        return found is not None and found in self.origins


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProvidersFileError(f"{where}: {key!r} must be a{' non-empty' if required else ''} string")
    return value.strip()


def _endpoints(entry: dict[str, Any], where: str) -> dict[str, str]:
    services = entry.get("services", [])
    if not isinstance(services, list):
        raise ProvidersFileError(f"{where}: 'services' must be an array")
    found: dict[str, str] = {}
    for number, service in enumerate(services):
        endpoint = service.get("endpoint") if isinstance(service, dict) else None
        kind = endpoint.get("type") if isinstance(endpoint, dict) else None
        name = kind.get("name") if isinstance(kind, dict) else None
        path = endpoint.get("path") if isinstance(endpoint, dict) else None
        if not isinstance(name, str) or not isinstance(path, str):
            raise ProvidersFileError(f"{where}: services[{number}] needs endpoint.type.name and "
                                     "endpoint.path")
        if origin(path) is None:
            raise ProvidersFileError(f"{where}: services[{number}] endpoint.path {path!r} is not "
                                     "an absolute http(s) URL")
        found.setdefault(name.strip().lower(), path.strip())
    return found


def _provider(entry: object, number: int) -> Provider:
    where = f"provider [{number}]"
    if not isinstance(entry, dict):
        raise ProvidersFileError(f"{where} is not an object")
    raw = _text(entry, "domain", where, required=True)
    domain = normalize_domain(raw)
    if domain is None:
        raise ProvidersFileError(f"{where}: domain {raw!r} is not a bare domain (no scheme, path "
                                 "or wildcard)")
    where = f"provider {domain}"
    endpoints = _endpoints(entry, where)
    if "ocm" not in endpoints:
        raise ProvidersFileError(f"{where}: no service of type OCM (its OCM API URL)")
    urls = [endpoints["ocm"]] + ([endpoints["webdav"]] if "webdav" in endpoints else [])
    return Provider(domain=domain, name=_text(entry, "name", where) or domain,
                    full_name=_text(entry, "full_name", where),
                    organization=_text(entry, "organization", where),
                    ocm_url=endpoints["ocm"], webdav_url=endpoints.get("webdav", ""),
                    origins=frozenset(o for o in map(origin, urls) if o))


def parse_providers(text: str, source: str = "providers file") -> dict[str, Provider]:
    """The providers of an ocmproviders.json text, by domain; ProvidersFileError names the fault."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProvidersFileError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ProvidersFileError(f"{source} must hold a JSON array of providers")
    found: dict[str, Provider] = {}
    for number, entry in enumerate(data):
        try:
            provider = _provider(entry, number)
        except ProvidersFileError as exc:
            raise ProvidersFileError(f"{source}: {exc}") from None
        if provider.domain in found:
            raise ProvidersFileError(f"{source}: domain {provider.domain} is listed twice")
        found[provider.domain] = provider
    return found


class UnknownProvider(BadRequest):
    """The domain is not one of the trusted OCM providers."""

    code = "providerNotTrusted"


class Providers:
    """The allow-list, read from `path` (again whenever the file changes). A missing file trusts
    nobody; a broken one keeps the last good list and logs why."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._by_domain: dict[str, Provider] = {}
        self.load()

    def load(self) -> None:
        """Read the file now; ProvidersFileError if it is unreadable or malformed."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._by_domain = None, {}
            return
        except OSError as exc:
            raise ProvidersFileError(f"cannot read {self.path}: {exc.strerror}") from None
        if stat.st_size > MAX_FILE_SIZE:
            raise ProvidersFileError(f"{self.path} is larger than {MAX_FILE_SIZE} bytes")
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProvidersFileError(f"cannot read {self.path}: {exc}") from None
        self._by_domain = parse_providers(text, str(self.path))
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def _fresh(self) -> dict[str, Provider]:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            try:
                self.load()
            except ProvidersFileError as exc:
                log.error("OCM providers not reloaded, keeping the previous list: %s", exc)
                self._stamp = stamp
        return self._by_domain

    def all(self) -> list[Provider]:
        return sorted(self._fresh().values(), key=lambda p: p.domain)

    def find(self, domain: str) -> Provider | None:
        """The provider listed under exactly this domain, else None."""
        canonical = normalize_domain(domain)
        return self._fresh().get(canonical) if canonical else None

    def get(self, domain: str) -> Provider:
        """The provider listed under this domain; UnknownProvider (naming the file) else."""
        provider = self.find(domain)
        if provider is None:
            raise UnknownProvider(f"{domain!r} is not a trusted OCM provider (not listed in "
                                  f"{self.path.name})")
        return provider

    def owner_of(self, url: str) -> Provider | None:
        """The listed provider whose endpoints are on the origin of `url`, else None."""
        found = origin(url)
        if found is None:
            return None
        return next((p for p in self._fresh().values() if found in p.origins), None)
