"""The one domain error hierarchy. Storage and identity raise these; each protocol renders them."""

from __future__ import annotations

import errno
import math


class OcisError(Exception):
    """Base of every expected failure. `status` is the HTTP status most protocols map it to."""

    status = 500
    code = "generalException"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class BadRequest(OcisError):
    """The request is malformed."""

    status = 400
    code = "invalidRequest"


class InvalidName(BadRequest):
    """A path or name breaks the naming rules."""


class Unauthenticated(OcisError):
    """Authentication is required or failed."""

    status = 401
    code = "unauthenticated"


class PermissionDenied(OcisError):
    """The principal may see the resource but not do this to it."""

    status = 403
    code = "accessDenied"


class NotFound(OcisError):
    """The resource does not exist or is not visible to the principal."""

    status = 404
    code = "itemNotFound"


class MethodNotAllowed(OcisError):
    """The operation is not allowed on this kind of resource."""

    status = 405
    code = "notAllowed"


class AlreadyExists(OcisError):
    """A resource with this name already exists."""

    status = 405
    code = "nameAlreadyExists"


class Conflict(OcisError):
    """The parent is missing or the operation conflicts with the tree."""

    status = 409
    code = "conflict"


class PreconditionFailed(OcisError):
    """A conditional header (If-Match, If, Overwrite: F) did not hold."""

    status = 412
    code = "preconditionFailed"


class PayloadTooLarge(OcisError):
    """The request body is larger than allowed."""

    status = 413
    code = "invalidRequest"


class UnsupportedMediaType(OcisError):
    """The request body has a type the operation does not accept."""

    status = 415
    code = "invalidRequest"


class RangeNotSatisfiable(OcisError):
    """The requested range lies outside the resource."""

    status = 416
    code = "invalidRange"


class Locked(OcisError):
    """The resource is locked by someone else."""

    status = 423
    code = "itemIsLocked"


class ChecksumMismatch(BadRequest):
    """The computed checksum does not match the one received from the client."""


class QuotaExceeded(OcisError):
    """The space has not enough free quota for this write."""

    status = 507
    code = "quotaLimitReached"


class InsufficientStorage(OcisError):
    """The data disk has no room for this write (or would keep less than its free-space reserve)."""

    status = 507
    code = "insufficientStorage"


class TooManyRequests(OcisError):
    """Too many failed attempts: wait before trying again."""

    status = 429
    code = "tooManyRequests"

    def __init__(self, message: str = "", *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotSupported(OcisError):
    """This server does not support the operation."""

    status = 501
    code = "notSupported"


class BadGateway(OcisError):
    """The target is on another server."""

    status = 502
    code = "generalException"


_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13   # SQLITE_FULL: "database or disk is full"


def is_disk_full(exc: BaseException) -> bool:
    """True for a write that failed because the disk (or the file system quota) is full: an
    OSError ENOSPC/EDQUOT or SQLite's SQLITE_FULL. Renderers answer these 507, never 500."""
    if isinstance(exc, OSError):
        return exc.errno in _DISK_FULL_ERRNOS
    return getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL


def disk_full_error(exc: BaseException) -> InsufficientStorage | None:
    """The domain error a disk-full failure becomes (None for any other failure)."""
    if isinstance(exc, InsufficientStorage):
        return exc
    return InsufficientStorage("not enough free space on the server's data disk") \
        if is_disk_full(exc) else None


class ServiceUnavailable(OcisError):
    """Something this service depends on (the disk, the LDAP server, the database) is away for a
    while: try again after `retry_after` seconds (RFC 9110 §15.6.4, the Retry-After header)."""

    status = 503
    code = "serviceNotAvailable"

    def __init__(self, message: str = "", *, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, as the Retry-After header wants them."""
        return str(max(1, math.ceil(self.retry_after)))


# Operating-system failures that say "the machine is short of something", not "the request is
# wrong" nor "our code is wrong": out of descriptors, memory or buffers, a read-only or failing disk.
_OUTSIDE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EROFS,
                             errno.EIO})


_SQLITE_READONLY = 8   # SQLITE_READONLY: "attempt to write a readonly database"


def unavailable_cause(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 an unexpected exception stands for when the machine, not our code, failed (a
    renderer answers that instead of a 500); None for anything else."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == _SQLITE_READONLY:
        return ServiceUnavailable("the data folder is read-only: the server serves reads only")
    if isinstance(exc, OSError) and exc.errno in _OUTSIDE_ERRNOS:
        what = "the data folder is read-only: the server serves reads only" if exc.errno == errno.EROFS else (
            f"the server is short of resources ({errno.errorcode.get(exc.errno or 0, 'error')})")
        return ServiceUnavailable(what)
    return None
