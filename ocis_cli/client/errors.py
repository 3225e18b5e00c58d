"""The SDK's error tree: one typed exception per kind of failure a caller may want to handle.

Parsed from DAV XML, OCS and OData (Graph) error bodies by `ocis_cli.client.http`; no aiohttp here, so
front ends can catch these without importing the HTTP stack.
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of every SDK failure. `status` is the HTTP status (0 when no response arrived)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class BadRequest(ClientError):
    """The server rejected the request as malformed (400, 422)."""


class AuthError(ClientError):
    """Authentication is missing or was rejected (401)."""


class PermissionDenied(ClientError):
    """The user may not do this (403)."""


class NotFound(ClientError):
    """The resource does not exist or is not visible (404)."""


class Conflict(ClientError):
    """The operation conflicts with the tree: exists, parent missing, precondition (405/409/412)."""


class Locked(ClientError):
    """The resource is locked (423); retrying later may help."""


class QuotaExceeded(ClientError):
    """Not enough quota or storage (507)."""


class ServerError(ClientError):
    """The server failed (5xx)."""


class Unavailable(ServerError):
    """The server or a service behind it is temporarily unavailable (502/503/504)."""


class NetworkError(ClientError):
    """No response: connection refused, DNS, TLS, timeout."""


class IntegrityError(ClientError):
    """Transferred bytes do not match the checksum the server announced."""


def error_for_status(status: int, message: str, code: str = "") -> ClientError:
    """The typed error for an HTTP status."""
    kind: type[ClientError]
    if status == 401:
        kind = AuthError
    elif status == 403:
        kind = PermissionDenied
    elif status == 404:
        kind = NotFound
    elif status in (405, 409, 412):
        kind = Conflict
    elif status == 423:
        kind = Locked
    elif status == 507:
        kind = QuotaExceeded
    elif status in (502, 503, 504):
        kind = Unavailable
    elif status >= 500:
        kind = ServerError
    else:
        kind = BadRequest
    return kind(message, status=status, code=code)
