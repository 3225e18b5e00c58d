"""Room on the data disk: the free-space reserve every upload must leave (507 otherwise), and a
ballast file that a delete or purge gives up when the disk is full, so that the change that frees
space can commit. SQLite needs a few pages of WAL even to delete a row; without the ballast a disk
filled by anything (another program, a log) would make removing files impossible.

Blocking code: the storage provider calls it from its I/O and writer threads.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from ocis_server.domain.errors import InsufficientStorage, PayloadTooLarge

log = logging.getLogger(__name__)

# The largest file the storage takes: sizes stay exact as JSON numbers (JavaScript clients), and the
# sums of many of them (tree sizes, quota use) stay far below SQLite's 64-bit integers.
MAX_FILE_SIZE = (1 << 53) - 1
BALLAST_NAME = "ballast"          # in the storage root, beside metadata.db: room for deletes
BALLAST_SIZE = 8 * 1024 * 1024    # the WAL of a large purge
START_BALLAST_NAME = "ballast-start"   # room to open the databases at start (WAL index, WAL)
START_BALLAST_SIZE = 2 * 1024 * 1024
FULL_MESSAGE = "not enough free space on the server's data disk"


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding `path`."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_file_size(size: int) -> None:
    """PayloadTooLarge (413) for an announced size the storage cannot take."""
    if size > MAX_FILE_SIZE:
        raise PayloadTooLarge(f"files larger than {MAX_FILE_SIZE} bytes cannot be stored")


class DiskGuard:
    """The free-space rules of one storage root. `reserve` (bytes, 0 = none): an upload that would
    leave less free space than this is refused with 507 before (or while) its bytes are stored."""

    def __init__(self, root: Path, reserve: int = 0) -> None:
        self.root = root
        self.reserve = max(0, reserve)
        self.ballast = root / BALLAST_NAME
        self._lock = threading.Lock()

    # --- the free-space reserve ----------------------------------------------------------------

    def require(self, incoming: int = 0) -> None:
        """InsufficientStorage unless `incoming` more bytes still leave the reserve free."""
        if self.reserve <= 0 and incoming <= 0:
            return
        free = free_bytes(self.root)
        if free - max(0, incoming) < self.reserve:
            raise InsufficientStorage(FULL_MESSAGE)

    def left_for_uploads(self) -> int:
        """Bytes uploads may still add before the reserve is reached (quota-style `free`)."""
        return max(0, free_bytes(self.root) - self.reserve)

    # --- the ballast ---------------------------------------------------------------------------

    def release_ballast(self) -> bool:
        """Give the delete ballast's space back to the file system; True if there was one."""
        if not _release(self.ballast, self._lock):
            return False
        log.warning("the data disk is full: released the %d MiB ballast so that deletes can "
                    "commit; it is laid again once there is room", BALLAST_SIZE >> 20)
        return True

    def lay_ballast(self) -> bool:
        """Make the ballast files that are missing, each only when that leaves the reserve (and
        as much again) free; best effort. True when both are in place afterwards."""
        with self._lock:
            return all(self._lay(path, size) for path, size in (
                (self.root / START_BALLAST_NAME, START_BALLAST_SIZE),
                (self.ballast, BALLAST_SIZE)))

    def _lay(self, path: Path, size: int) -> bool:
        if path.exists():
            return True
        try:
            if free_bytes(self.root) < 2 * size + self.reserve:
                return False
            _allocate(path, size)
        except OSError as exc:
            log.info("no ballast laid in %s: %s", self.root, exc.strerror)
            path.unlink(missing_ok=True)
            return False
        return True

    def open_room(self) -> None:
        """At start: when the disk is (nearly) full, release the start ballast so that the
        databases can open (a WAL index needs a few pages) and the server can serve reads and
        deletes."""
        try:
            if free_bytes(self.root) < START_BALLAST_SIZE and _release(
                    self.root / START_BALLAST_NAME, self._lock):
                log.warning("the data disk is full: released the start ballast to open the "
                            "databases; uploads answer 507 until space is freed")
        except OSError:
            pass


def _release(path: Path, lock: threading.Lock) -> bool:
    with lock:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
    return True


def _allocate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)     # real blocks: a sparse file would free nothing
        os.fsync(fd)
    finally:
        os.close(fd)
