"""TUS 1.0.0 uploads (creation, creation-with-upload, checksum, expiration, termination) to a folder
on the spaces endpoint (protocol-notes.md §5), with resume state kept on disk between runs.

The server's offset is the truth: a saved upload resumes from what `HEAD <Location>` reports.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocis_cli.client.errors import (
    AuthError,
    ClientError,
    Conflict,
    IntegrityError,
    NetworkError,
    NotFound,
    PermissionDenied,
    ServerError,
)
from ocis_cli.client.http import HttpClient, error_from_response
from ocis_cli.client.webdav import dav_path, split_path

TUS_VERSION = "1.0.0"
DEFAULT_CHUNK_SIZE = 10_000_000          # oCIS's max_chunk_size default
OFFSET_TYPE = "application/offset+octet-stream"
_SLICE = 256 * 1024
_IN_MEMORY = 16 * 1024 * 1024            # chunks up to this size are read once and kept in memory
_MAX_RETRIES = 3                         # per kind of recoverable failure (409, 460, expiry)

# Called with the number of bytes the upload has reached (absolute, not a delta).
Progress = Callable[[int], None]


class TusError(ClientError):
    """A TUS-specific failure."""


class ChecksumMismatch(TusError, IntegrityError):
    """The server computed another checksum for a chunk (oCIS: 406; tus checksum extension: 460)."""


class OffsetConflict(TusError, Conflict):
    """Upload-Offset did not match the server's offset (409): re-read it with HEAD and go on."""


class UploadGone(TusError, NotFound):
    """The upload resource expired or was removed (404/410): start over."""


@dataclass(frozen=True, slots=True)
class TusSupport:
    """`capabilities.files.tus_support`: TUS is used when `version` is set."""

    version: str
    extensions: frozenset[str]
    max_chunk_size: int                   # 0: no limit
    http_method_override: str = ""

    @classmethod
    def from_capabilities(cls, caps: Mapping[str, Any]) -> TusSupport | None:
        files = caps.get("capabilities", caps).get("files") if isinstance(caps, Mapping) else None
        tus = files.get("tus_support") if isinstance(files, Mapping) else None
        if not isinstance(tus, Mapping) or not tus.get("version"):
            return None
        extension = tus.get("extension") or ""
        if isinstance(extension, str):
            extension = extension.split(",")
        try:
            max_chunk = int(tus.get("max_chunk_size", DEFAULT_CHUNK_SIZE) or 0)
        except (TypeError, ValueError):
            max_chunk = DEFAULT_CHUNK_SIZE
        return cls(version=str(tus["version"]),
                   extensions=frozenset(str(e).strip() for e in extension if str(e).strip()),
                   max_chunk_size=max(max_chunk, 0),
                   http_method_override=str(tus.get("http_method_override") or ""))

    def chunk_size(self, wanted: int | None = None) -> int:
        """The PATCH size to use: `wanted` (when given) capped by the server's limit; 0 = unlimited."""
        limit = self.max_chunk_size
        if wanted and wanted > 0:
            return min(wanted, limit) if limit else wanted
        return limit


@dataclass(slots=True)
class UploadState:
    """What is needed to resume an upload in a later run (one small JSON file per upload)."""

    local: str
    size: int
    mtime: int
    sha1: str
    remote: str
    location: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def matches(self, local: Path, size: int, mtime: int, remote: str) -> bool:
        """Still the same local file, unchanged, going to the same place."""
        return (self.local == str(local.resolve()) and self.size == size and self.mtime == mtime
                and self.remote == remote and bool(self.location))


class ResumeStore:
    """Resume state files under a directory (by default `user_state_dir("ocis")/uploads`)."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            from platformdirs import user_state_dir

            directory = Path(user_state_dir("ocis", appauthor=False)) / "uploads"
        self.directory = directory

    def path(self, key: Sequence[str]) -> Path:
        digest = hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:32]
        return self.directory / f"{digest}.json"

    def load(self, key: Sequence[str]) -> UploadState | None:
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return UploadState(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)          # unreadable: useless for resuming
            return None

    def save(self, key: Sequence[str], state: UploadState) -> None:
        """Write atomically, mode 0600: the Location carries the upload's credential."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(state), fh)
        os.replace(tmp, path)

    def delete(self, key: Sequence[str]) -> None:
        self.path(key).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class TusResult:
    size: int
    resumed_from: int                     # the server offset this run started at (0: fresh)
    sent: int                             # bytes this run sent
    headers: dict[str, str]               # the final answer's headers (OC-FileId, ETag, ...)


def encode_metadata(items: Mapping[str, str]) -> str:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (tus 1.0.0 creation)."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in items.items())


def sha1_header(data: bytes) -> str:
    """`Upload-Checksum` for a chunk: algorithm, space, base64 of the binary digest."""
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


class Tus:
    """The TUS protocol against one server; `support()` reads the capabilities once per client."""

    def __init__(self, http: HttpClient, capabilities: Callable[[], Any] | None = None) -> None:
        self.http = http
        self._capabilities = capabilities
        self._support: TusSupport | None = None
        self._support_read = False

    async def support(self) -> TusSupport | None:
        """The server's TUS support, None when it advertises none (or has no capabilities)."""
        if not self._support_read:
            caps: Any = {}
            if self._capabilities is not None:
                try:
                    caps = await self._capabilities()
                except NetworkError:
                    raise
                except ClientError:             # no OCS here: a plain WebDAV server
                    caps = {}
            self._support = TusSupport.from_capabilities(caps if isinstance(caps, dict) else {})
            self._support_read = True
        return self._support

    async def _send(self, method: str, url: str, headers: dict[str, str],
                    data: Any = None) -> tuple[int, dict[str, str]]:
        """One TUS request; 404/406/409/410/460 become the typed errors callers recover from."""
        support = self._support
        creating = method == "POST"
        if method == "PATCH" and support is not None and support.http_method_override:
            headers = {**headers, "X-HTTP-Method-Override": "PATCH"}
            method = "POST"
        headers = {"Tus-Resumable": TUS_VERSION, **headers}
        async with self.http.stream(method, url, headers=headers, data=data,
                                    ok=(404, 406, 409, 410, 460)) as resp:
            body = await resp.read()
            status, answer = resp.status, {k: v for k, v in resp.headers.items()}
            what = f"TUS {method}"          # never the URL: a Location carries a credential
            if creating and status in (404, 409, 410):     # parent missing, target is a folder
                raise error_from_response(status, body, resp.content_type, what)
            if status in (404, 410):
                raise UploadGone(f"{what}: the upload is gone (expired or removed)", status=status)
            if status == 409:
                raise OffsetConflict(f"{what}: offset conflict", status=status)
            if status in (406, 460):     # oCIS answers 406, the tus checksum extension 460
                raise ChecksumMismatch(f"{what}: checksum mismatch", status=status)
        return status, answer

    async def create(self, space_id: str, folder: str, filename: str, size: int, *,
                     metadata: Mapping[str, str], first: bytes | None = None,
                     ) -> tuple[str, int, dict[str, str]]:
        """POST to the folder (creation; with `first`, creation-with-upload): (Location, offset,
        headers). An empty Location means the upload is already complete (e.g. zero bytes)."""
        headers = {"Upload-Length": str(size),
                   "Upload-Metadata": encode_metadata({"filename": filename, **metadata})}
        if first is not None:
            headers.update({"Content-Type": OFFSET_TYPE, "Upload-Offset": "0",
                            "Upload-Checksum": sha1_header(first)})
        url = dav_path(space_id, folder).rstrip("/") + "/"
        _, answer = await self._send("POST", url, headers, first)
        location = answer.get("Location", "")
        offset = max(_offset(answer, 0), 0)  # no Upload-Offset: the server took no body
        if not location and size and offset < size:
            raise ServerError(f"POST {folder}: the server created no upload (no Location)")
        return location, offset, answer

    async def offset(self, location: str) -> int:
        """HEAD: the number of bytes the server holds (UploadGone when it expired)."""
        _, answer = await self._send("HEAD", location, {})
        found = _offset(answer, -1)
        if found < 0:
            raise ServerError("HEAD: the server sent no Upload-Offset")
        return found

    async def _resume_offset(self, location: str) -> int:
        """HEAD of a saved upload; a token the server no longer accepts (new transfer secret)
        means the upload is gone as much as an expired one."""
        try:
            return await self.offset(location)
        except (AuthError, PermissionDenied) as exc:
            raise UploadGone(f"the saved upload is not accepted any more: {exc.message}",
                             status=exc.status) from None

    async def terminate(self, location: str) -> None:
        """DELETE the upload (termination extension); a missing upload is fine."""
        try:
            await self._send("DELETE", location, {})
        except UploadGone:
            pass

    async def patch(self, location: str, fd: int, offset: int, length: int,
                    progress: Progress | None = None) -> tuple[int, dict[str, str]]:
        """Send `length` bytes of the open file from `offset`: (new server offset, headers)."""
        checksum, body = await _chunk(fd, offset, length, progress)
        headers = {"Content-Type": OFFSET_TYPE, "Upload-Offset": str(offset),
                   "Content-Length": str(length), "Upload-Checksum": checksum}
        _, answer = await self._send("PATCH", location, headers, body)
        new = _offset(answer, -1)
        if new < 0:
            raise ServerError("PATCH: the server sent no Upload-Offset")
        return new, answer

    async def upload(self, space_id: str, path: str, local: Path, *, sha1: str, mtime: int,
                     chunk_size: int | None = None, progress: Progress | None = None,
                     store: ResumeStore | None = None, key: Sequence[str] = (),
                     fresh: bool = False,
                     on_resume: Callable[[int, int], None] | None = None) -> TusResult:
        """Upload `local` to `path` in the space, resuming a saved upload unless `fresh`.

        The resume state is saved right after creation and removed once the last byte is in, so
        an interrupted run (Ctrl-C, network loss) can be continued by calling this again.
        """
        support = await self.support()
        if support is None:
            raise TusError("the server does not support TUS uploads")
        size = local.stat().st_size
        step = support.chunk_size(chunk_size) or max(size, 1)
        remote = f"{space_id}:{path}"
        state = None if (fresh or store is None) else store.load(key)
        if store is not None and state is not None and not state.matches(local, size, mtime, remote):
            store.delete(key)
            state = None
        upload = _Upload(self, support, space_id, path, local, size, step, sha1, mtime, progress)
        upload.store, upload.key = store, key
        for attempt in range(_MAX_RETRIES):
            try:
                if state is not None:
                    upload.start = upload.offset = await self._resume_offset(state.location)
                    upload.location = state.location
                    if on_resume is not None:
                        on_resume(upload.offset, size)
                else:
                    await upload.create()
                await upload.run()
                break
            except UploadGone:
                if attempt == _MAX_RETRIES - 1:
                    raise
                if store is not None:
                    store.delete(key)
                state = None
        if store is not None:
            store.delete(key)
        return TusResult(size=size, resumed_from=upload.start, sent=upload.sent,
                         headers=upload.headers)


class _Upload:
    """One upload's progress through creation and PATCHes (the loop behind `Tus.upload`)."""

    def __init__(self, tus: Tus, support: TusSupport, space_id: str, path: str, local: Path,
                 size: int, step: int, sha1: str, mtime: int, progress: Progress | None) -> None:
        self.tus, self.support = tus, support
        self.space_id, self.path, self.local = space_id, path, local
        self.size, self.step, self.sha1, self.mtime = size, step, sha1, mtime
        self.progress = progress
        self.store: ResumeStore | None = None
        self.key: Sequence[str] = ()
        self.location = ""
        self.start = self.offset = self.sent = 0
        self.headers: dict[str, str] = {}

    async def create(self) -> None:
        segments = split_path(self.path)
        if not segments:
            raise ClientError("cannot upload to the root of a space itself")
        folder = "/" + "/".join(segments[:-1])
        metadata = {"mtime": str(self.mtime), "checksum": f"sha1 {self.sha1}"}
        first = None
        if "creation-with-upload" in self.support.extensions and self.size:
            first = await _read(self.local, 0, min(self.step, self.size))
        self.location, self.offset, self.headers = await self.tus.create(
            self.space_id, folder, segments[-1], self.size, metadata=metadata, first=first)
        self.start = 0
        self.sent += self.offset
        if self.progress is not None:
            self.progress(self.offset)
        if self.store is not None and self.location and self.offset < self.size:
            self.store.save(self.key, UploadState(
                local=str(self.local.resolve()), size=self.size, mtime=self.mtime, sha1=self.sha1,
                remote=f"{self.space_id}:{self.path}", location=self.location))

    async def run(self) -> None:
        """PATCH until the server holds every byte; re-read the offset after a 409 or a 460."""
        conflicts = mismatches = 0
        if self.progress is not None:
            self.progress(self.offset)
        fd = await asyncio.to_thread(os.open, self.local, os.O_RDONLY)
        try:
            while self.offset < self.size:
                length = min(self.step, self.size - self.offset)
                try:
                    new, self.headers = await self.tus.patch(self.location, fd, self.offset,
                                                             length, self.progress)
                except OffsetConflict:
                    conflicts += 1
                    if conflicts >= _MAX_RETRIES:
                        raise
                    self.offset = await self.tus.offset(self.location)
                    continue
                except ChecksumMismatch:
                    mismatches += 1
                    if mismatches >= _MAX_RETRIES:
                        raise
                    self.offset = await self.tus.offset(self.location)
                    continue
                if new <= self.offset:
                    raise ServerError(f"PATCH: the server did not advance (offset {new})")
                self.sent += new - self.offset
                self.offset = new
        finally:
            await asyncio.to_thread(os.close, fd)


def _offset(headers: Mapping[str, str], default: int) -> int:
    value = headers.get("Upload-Offset")
    if value is None or not value.strip().isdigit():
        return default
    return int(value)


async def _read(local: Path, offset: int, length: int) -> bytes:
    def read() -> bytes:
        with local.open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    data = await asyncio.to_thread(read)
    if len(data) != length:
        raise ClientError(f"{local}: the file changed while uploading")
    return data


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise ClientError("the local file changed while uploading")
    return data


def _hash_range(fd: int, offset: int, length: int) -> str:
    digest = hashlib.sha1()
    end = offset + length
    while offset < end:
        data = _pread_exact(fd, min(1024 * 1024, end - offset), offset)
        digest.update(data)
        offset += len(data)
    return "sha1 " + base64.b64encode(digest.digest()).decode()


async def _chunk(fd: int, offset: int, length: int,
                 progress: Progress | None) -> tuple[str, AsyncIterator[bytes]]:
    """(Upload-Checksum, body) for a byte range; the body reports progress as it is sent.

    The checksum header must precede the body, so a range is read twice when it is too big to keep
    in memory: once to hash it, once to send it."""
    if length <= _IN_MEMORY:
        data = await asyncio.to_thread(_pread_exact, fd, length, offset)

        async def from_memory() -> AsyncIterator[bytes]:
            for at in range(0, length, _SLICE):
                yield data[at:at + _SLICE]
                if progress is not None:
                    progress(offset + min(at + _SLICE, length))

        return sha1_header(data), from_memory()
    checksum = await asyncio.to_thread(_hash_range, fd, offset, length)

    async def from_disk() -> AsyncIterator[bytes]:
        at = 0
        while at < length:
            data = await asyncio.to_thread(_pread_exact, fd, min(1024 * 1024, length - at),
                                           offset + at)
            yield data
            at += len(data)
            if progress is not None:
                progress(offset + at)

    return checksum, from_disk()
