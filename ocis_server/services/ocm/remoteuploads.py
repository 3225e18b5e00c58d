"""TUS uploads in several requests into a remote space: paris forwards the creation to the
sharer's WebDAV URI of the share (TUS there) and answers the client with a Location of its own,
`/dav/spaces/<remote space>?ocm-upload=<id>`, which names neither the sharer's host nor the
secret. The sharer's upload URL is kept here, server side: bounded (the oldest entry goes
first), expiring (the sharer's `Upload-Expires`, at most a day), for the user who created it
and that share only. It is taken only when it lies on an origin the providers file lists for
the share's provider; the requests to it go through the one client (no redirect followed).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_MAX_ENTRIES = 10_000
_MAX_LIFETIME = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RemoteUpload:
    user_id: str
    share_id: str
    url: str            # the sharer's upload URL (its TUS `Location`)
    expires: float      # time.time() after which the entry is gone


class RemoteUploads:
    """Upload id (what paris's Location carries) -> the sharer's upload URL."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, RemoteUpload] = {}

    def add(self, user_id: str, share_id: str, url: str, expires_header: str = "") -> str:
        now = time.time()
        expires = now + _MAX_LIFETIME
        if expires_header:
            try:
                expires = min(expires, parsedate_to_datetime(expires_header).timestamp())
            except (TypeError, ValueError, OverflowError):
                pass
        self._drop_expired(now)
        while len(self._entries) >= self.max_entries:       # the oldest goes first
            del self._entries[next(iter(self._entries))]
        upload_id = secrets.token_urlsafe(24)
        self._entries[upload_id] = RemoteUpload(user_id, share_id, url, expires)
        return upload_id

    def get(self, upload_id: str, user_id: str) -> RemoteUpload | None:
        """The entry, if it exists, has not expired and was created by `user_id`."""
        entry = self._entries.get(upload_id)
        if entry is None or entry.user_id != user_id:
            return None
        if entry.expires <= time.time():
            self._entries.pop(upload_id, None)
            return None
        return entry

    def forget(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
