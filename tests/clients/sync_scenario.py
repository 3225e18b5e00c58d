"""The sync scenario both desktop sync engines (owncloudcmd, nextcloudcmd) must pass.

Up: a local tree reaches the server byte for byte. Down: a tree made over WebDAV reaches a fresh
local folder. Each time a second run is a no-op: exit 0, the server folder's etag unchanged (any
upload would propagate a new one) and no local file rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

from .helpers import TREE, Dav, describe, read_tree, write_tree

# runs the client once: (local folder, remote folder name) -> finished process
SyncRun = Callable[[Path, str], CompletedProcess[str]]


def local_mtimes(root: Path) -> dict[str, int]:
    return {rel: (root / rel).stat().st_mtime_ns for rel in read_tree(root)}


def changed(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return sorted(rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel))


def sync_up(sync: SyncRun, dav: Dav, local: Path, remote_dir: str) -> None:
    write_tree(local)
    dav.mkcol(f"/remote.php/webdav/{remote_dir}")
    first = sync(local, remote_dir)
    assert first.returncode == 0, describe(first)
    assert dav.walk(f"/remote.php/webdav/{remote_dir}") == dict(sorted(TREE.items()))

    etag, mtimes = dav.etag(f"/remote.php/webdav/{remote_dir}"), local_mtimes(local)
    second = sync(local, remote_dir)
    assert second.returncode == 0, describe(second)
    assert dav.etag(f"/remote.php/webdav/{remote_dir}") == etag, "second sync changed the server"
    assert not changed(mtimes, local_mtimes(local)), (
        f"second sync rewrote local files: {changed(mtimes, local_mtimes(local))}\n{describe(second)}")
    assert read_tree(local) == TREE


def sync_down(sync: SyncRun, dav: Dav, local: Path, remote_dir: str) -> None:
    dav.upload_tree(f"/remote.php/webdav/{remote_dir}", TREE)
    local.mkdir()
    first = sync(local, remote_dir)
    assert first.returncode == 0, describe(first)
    assert read_tree(local) == TREE
    # every folder arrived too, empty file included
    assert (local / "a" / "b" / "empty.txt").is_file()

    etag, mtimes = dav.etag(f"/remote.php/webdav/{remote_dir}"), local_mtimes(local)
    second = sync(local, remote_dir)
    assert second.returncode == 0, describe(second)
    # e.g. GET's Last-Modified differing from PROPFIND's getlastmodified: nextcloudcmd takes the
    # mtime from the GET and "corrects" it at the next sync
    assert not changed(mtimes, local_mtimes(local)), (
        f"second sync touched local files: {changed(mtimes, local_mtimes(local))}\n{describe(second)}")
    assert dav.etag(f"/remote.php/webdav/{remote_dir}") == etag, "second sync changed the server"
    assert dav.walk(f"/remote.php/webdav/{remote_dir}") == dict(sorted(TREE.items()))
