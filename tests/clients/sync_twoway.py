"""Two-way sync scenarios for the desktop sync engines (owncloudcmd, nextcloudcmd), issue 3.

Each scenario keeps one local folder and one server folder in step through repeated client runs.
The client talks to the server through a recording proxy, so a scenario can say what was
transferred (a rename must be a MOVE, not a re-upload; a no-op run moves nothing).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .helpers import OC, OLD_MTIME, TREE, Dav, describe, read_tree, write_tree
from .request_log import Exchange, RequestLog
from .sync_scenario import SyncRun, changed, local_mtimes

CONFLICT = re.compile(r" \(conflicted copy [^)]*\)")
UPLOADS = ("PUT", "POST", "PATCH")


@dataclass
class TwoWay:
    """One client, one local folder, one server folder `remote_dir` in the admin's home."""

    sync: SyncRun
    dav: Dav
    log: RequestLog
    local: Path
    remote_dir: str
    env: dict[str, str] = field(default_factory=dict)    # extra client environment, per run

    def remote(self, rel: str = "") -> str:
        return f"/remote.php/webdav/{self.remote_dir}/{rel}"

    def run(self) -> list[Exchange]:
        """One client run that must succeed; returns its data-moving requests."""
        mark = self.log.mark()
        proc = self.sync(self.local, self.remote_dir)
        done = self.log.since(mark)
        assert proc.returncode == 0, describe(proc) + "\n--- requests\n" + "\n".join(map(str, done))
        return RequestLog.file_transfers(done)

    def server_tree(self) -> dict[str, bytes]:
        return self.dav.walk(self.remote())

    def assert_in_step(self, expected: dict[str, bytes]) -> None:
        assert read_tree(self.local) == dict(sorted(expected.items())), "local tree differs"
        assert self.server_tree() == dict(sorted(expected.items())), "server tree differs"

    def assert_noop_run(self) -> None:
        """A further run transfers nothing and touches nothing, on either side."""
        etag, mtimes = self.dav.etag(self.remote()), local_mtimes(self.local)
        moved = self.run()
        assert not moved, f"a no-op run transferred: {[str(x) for x in moved]}"
        assert self.dav.etag(self.remote()) == etag, "a no-op run changed the server folder"
        assert not changed(mtimes, local_mtimes(self.local)), (
            f"a no-op run rewrote local files: {changed(mtimes, local_mtimes(self.local))}")

    def start(self) -> dict[str, bytes]:
        """The common starting point: TREE made on the server, synced down into an empty folder."""
        self.dav.upload_tree(self.remote().rstrip("/"), TREE)
        self.local.mkdir()
        self.run()
        self.assert_in_step(TREE)
        return dict(TREE)

    def server_move(self, rel: str, to: str) -> None:
        destination = self.dav.base_url + urllib.parse.quote(self.remote(to))
        resp = self.dav.request("MOVE", self.remote(rel), headers={"Destination": destination})
        assert resp.status == 201, f"MOVE {rel} -> {resp.status} {resp.body[:300]!r}"

    def sha1(self, rel: str) -> str:
        """The SHA1 the server reports in oc:checksums (lower-case hex), "" if none."""
        entry = self.dav.propfind(self.remote(rel), "0", ("oc:checksums",))[0]
        return next((part.split(":", 1)[1].lower() for part in
                     entry.props.get(f"{OC}checksums", "").split()
                     if part.upper().startswith("SHA1:")), "")

    def fileid(self, rel: str) -> str:
        entry = self.dav.propfind(self.remote(rel), "0", ("oc:fileid", "oc:id"))[0]
        fileid = entry.props.get(f"{OC}fileid", "")
        assert fileid, f"no oc:fileid on {rel}: {entry.props}"
        return fileid

    def write_local(self, rel: str, data: bytes, mtime: int = OLD_MTIME + 86_400) -> None:
        path = self.local / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))


def _methods(moved: list[Exchange], *methods: str) -> list[Exchange]:
    return [x for x in moved if x.method in methods]


def first_sync_both_ways(tw: TwoWay) -> None:
    """A local tree goes up and a different server tree comes down in the same first run."""
    local_only = {"from local/x.txt": b"made locally\n", "top local.txt": b"local top\n"}
    tw.dav.upload_tree(tw.remote().rstrip("/"), TREE)
    write_tree(tw.local, local_only)
    moved = tw.run()
    tw.assert_in_step({**TREE, **local_only})
    assert len(_methods(moved, *UPLOADS)) >= len(local_only), [str(x) for x in moved]
    tw.assert_noop_run()


def nested_server_edit(tw: TwoWay) -> None:
    """An edit three folders down changes every parent's etag: the client finds and fetches it."""
    tree = tw.start()
    tree["a/b/c/deep file.bin"] = b"edited on the server, three folders down\n"
    tw.dav.put(tw.remote("a/b/c/deep file.bin"), tree["a/b/c/deep file.bin"])
    moved = tw.run()
    tw.assert_in_step(tree)
    assert [x.method for x in moved] == ["GET"], [str(x) for x in moved]
    assert moved[0].path.endswith("a/b/c/deep file.bin")
    tw.assert_noop_run()


def server_edit_same_second(tw: TwoWay) -> None:
    """A server edit that keeps the file's mtime second (two saves in one second, or a PUT with
    X-OC-Mtime): only the etag and content change, and the client must still fetch it.

    nextcloudcmd 3.7 then compares content checksums of the download and the local file in the
    capabilities' preferredUploadType; a spelling it does not know ("sha1") gives two empty
    checksums that compare equal, and it drops the download (the old 1-in-3 flake of scenario 2)."""
    tree = tw.start()
    rel = "a/b/c/deep file.bin"
    mtime = int((tw.local / rel).stat().st_mtime)       # the server's mtime, as the client set it
    tree[rel] = b"edited on the server within the same second\n"
    resp = tw.dav.request("PUT", tw.remote(rel), tree[rel], headers={"X-OC-Mtime": str(mtime)})
    assert resp.status in (200, 204), f"PUT {rel} -> {resp.status} {resp.body[:300]!r}"
    moved = tw.run()
    tw.assert_in_step(tree)
    assert [x.method for x in moved] == ["GET"], [str(x) for x in moved]
    tw.assert_noop_run()


def server_add_and_delete(tw: TwoWay) -> None:
    tree = tw.start()
    tree["a/added on server.txt"] = b"new on the server\n"
    tw.dav.put(tw.remote("a/added on server.txt"), tree["a/added on server.txt"])
    del tree["with space.txt"]
    assert tw.dav.request("DELETE", tw.remote("with space.txt")).status == 204
    moved = tw.run()
    tw.assert_in_step(tree)
    assert not (tw.local / "with space.txt").exists()
    assert not _methods(moved, *UPLOADS, "DELETE", "MOVE"), [str(x) for x in moved]
    tw.assert_noop_run()


def local_edit_delete_new_folder(tw: TwoWay) -> None:
    tree = tw.start()
    tree["hello.txt"] = b"hello world, edited locally and longer\n"
    tw.write_local("hello.txt", tree["hello.txt"])
    del tree["a/emoji 🎉.txt"]
    (tw.local / "a/emoji 🎉.txt").unlink()
    tree["new folder/inner/n.txt"] = b"in a new local folder\n"
    tw.write_local("new folder/inner/n.txt", tree["new folder/inner/n.txt"])
    (tw.local / "empty new folder").mkdir()
    moved = tw.run()
    tw.assert_in_step(tree)
    empty = tw.dav.propfind(tw.remote("empty new folder"), "0")[0]
    assert empty.is_collection, "the new empty local folder did not arrive as a collection"
    assert _methods(moved, "DELETE"), [str(x) for x in moved]
    assert not _methods(moved, "GET"), [str(x) for x in moved]
    tw.assert_noop_run()


def local_rename_is_a_move(tw: TwoWay) -> None:
    """The 256 KiB file renamed locally: one MOVE, no upload, the server keeps its file id."""
    tree = tw.start()
    before = tw.fileid("photo 2020.bin")
    (tw.local / "photo 2020.bin").rename(tw.local / "a" / "renamed photo.bin")
    tree["a/renamed photo.bin"] = tree.pop("photo 2020.bin")
    moved = tw.run()
    tw.assert_in_step(tree)
    assert [x.method for x in moved] == ["MOVE"], [str(x) for x in moved]
    assert tw.fileid("a/renamed photo.bin") == before, "the rename lost the file id"
    tw.assert_noop_run()


def server_folder_rename_is_a_local_move(tw: TwoWay) -> None:
    """A folder renamed on the server is renamed locally: same inodes, nothing downloaded."""
    tree = tw.start()
    inode = (tw.local / "a/b/c/deep file.bin").stat().st_ino
    tw.server_move("a/b", "a/b renamed")
    tree = {re.sub(r"^a/b/", "a/b renamed/", rel): data for rel, data in tree.items()}
    moved = tw.run()
    tw.assert_in_step(tree)
    assert not (tw.local / "a/b").exists()
    assert (tw.local / "a/b renamed/c/deep file.bin").stat().st_ino == inode, "re-downloaded"
    assert not moved, f"the local move needed transfers: {[str(x) for x in moved]}"
    tw.assert_noop_run()


def edit_on_both_sides_conflicts(tw: TwoWay) -> None:
    """Both edited: the server version wins the name, the local one survives as a conflict copy."""
    tree = tw.start()
    local_edit, server_edit = b"edited locally\n", b"edited on the server, differently\n"
    tw.write_local("hello.txt", local_edit)
    tw.dav.put(tw.remote("hello.txt"), server_edit)
    tw.run()
    assert (tw.local / "hello.txt").read_bytes() == server_edit
    assert tw.dav.get(tw.remote("hello.txt")) == server_edit
    copies = [p for p in tw.local.iterdir() if CONFLICT.search(p.name)]
    assert len(copies) == 1 and copies[0].name.startswith("hello ("), [p.name for p in copies]
    assert copies[0].read_bytes() == local_edit, "the local edit was lost"
    tree["hello.txt"] = server_edit
    on_server = tw.server_tree()
    if copies[0].name in on_server:          # a client configured to upload its conflict files
        tree[copies[0].name] = local_edit
    assert on_server == dict(sorted(tree.items()))
    assert read_tree(tw.local) == dict(sorted({**tree, copies[0].name: local_edit}.items()))
    tw.assert_noop_run()


def local_folder_rename_is_one_move(tw: TwoWay) -> None:
    """A folder renamed locally: one MOVE of the folder, the files inside keep their ids."""
    tree = tw.start()
    before = tw.fileid("a/b/c/deep file.bin")
    (tw.local / "a").rename(tw.local / "a renamed")
    tree = {re.sub(r"^a/", "a renamed/", rel): data for rel, data in tree.items()}
    moved = tw.run()
    tw.assert_in_step(tree)
    assert [x.method for x in moved] == ["MOVE"], [str(x) for x in moved]
    assert tw.fileid("a renamed/b/c/deep file.bin") == before
    tw.assert_noop_run()


def server_file_move_and_folder_delete(tw: TwoWay) -> None:
    """A file moved to another folder and a folder deleted on the server: applied locally as a
    rename and a removal, with nothing downloaded or sent back."""
    tree = tw.start()
    inode = (tw.local / "photo 2020.bin").stat().st_ino
    tw.server_move("photo 2020.bin", "目录/photo.bin")
    tree["目录/photo.bin"] = tree.pop("photo 2020.bin")
    assert tw.dav.request("DELETE", tw.remote("a/b")).status == 204
    tree = {rel: data for rel, data in tree.items() if not rel.startswith("a/b/")}
    moved = tw.run()
    tw.assert_in_step(tree)
    assert not (tw.local / "a/b").exists()
    assert (tw.local / "目录/photo.bin").stat().st_ino == inode, "re-downloaded"
    assert not moved, f"applying server changes needed transfers: {[str(x) for x in moved]}"
    tw.assert_noop_run()


def further_run_is_a_noop(tw: TwoWay) -> None:
    tw.start()
    tw.assert_noop_run()
    tw.assert_noop_run()


def chunked_upload(tw: TwoWay) -> None:
    """Chunking NG with 100 kB chunks (no TUS): a new file, then an update of it (`If:` etag)."""
    tw.env.update({"OWNCLOUD_CHUNK_SIZE": "100000", "OWNCLOUD_MIN_CHUNK_SIZE": "100000",
                   "OWNCLOUD_MAX_CHUNK_SIZE": "100000", "OWNCLOUD_NO_TUS": "1"})
    tree = tw.start()
    for version in (b"first", b"second"):
        data = hashlib.sha256(version).digest() * 11_000              # 352 000 bytes: 4 chunks
        tree["big/chunked.bin"] = data
        tw.write_local("big/chunked.bin", data, OLD_MTIME + len(version))
        moved = tw.run()
        tw.assert_in_step(tree)
        chunks = [x for x in moved
                  if x.method == "PUT" and x.path.startswith("/remote.php/dav/uploads/")]
        assert len(chunks) == 4, [str(x) for x in moved]
        final = [x for x in moved if x.method == "MOVE" and x.path.endswith("/.file")]
        assert len(final) == 1, [str(x) for x in moved]
        assert tw.sha1("big/chunked.bin") == hashlib.sha1(data).hexdigest()
    tw.assert_noop_run()


def tus_upload(tw: TwoWay) -> None:
    """With TUS advertised, new files and edits go up as TUS creation POSTs, not PUTs."""
    tree = tw.start()
    tree["hello.txt"] = b"edited locally, uploaded over TUS\n"
    tw.write_local("hello.txt", tree["hello.txt"])
    tree["new/over tus.bin"] = hashlib.sha256(b"tus").digest() * 4096
    tw.write_local("new/over tus.bin", tree["new/over tus.bin"])
    # Above the client's 10 MB chunk size: 2.11 miscomputes later TUS chunks (client-notes.md §2),
    # so the server must let it send the file whole (max_chunk_size 0) and get it intact.
    tree["new/big.bin"] = hashlib.sha256(b"big").digest() * 375_000 + b"end"
    tw.write_local("new/big.bin", tree["new/big.bin"])
    moved = tw.run()
    tw.assert_in_step(tree)
    posts = [x for x in moved if x.method == "POST"]
    assert len(posts) == 3 and all(x.headers.get("tus-resumable") == "1.0.0" for x in posts), (
        [str(x) for x in moved])
    assert not [x for x in moved if x.method == "PUT"], [str(x) for x in moved]
    # creation-with-upload carrying the whole file: no PATCH, so the 2.11 chunk bug cannot bite
    assert not [x for x in moved if x.method == "PATCH"], [str(x) for x in moved]
    assert all(x.headers.get("content-length") == x.headers.get("upload-length") for x in posts)
    for rel in ("hello.txt", "new/over tus.bin", "new/big.bin"):
        assert tw.sha1(rel) == hashlib.sha1(tree[rel]).hexdigest(), rel
    tw.assert_noop_run()


SCENARIOS: dict[str, Callable[[TwoWay], None]] = {
    "1-first-sync-both-ways": first_sync_both_ways,
    "2-nested-server-edit": nested_server_edit,
    "3-server-add-delete": server_add_and_delete,
    "4-local-edit-delete-new-folder": local_edit_delete_new_folder,
    "5-local-rename-move": local_rename_is_a_move,
    "6-server-folder-rename": server_folder_rename_is_a_local_move,
    "7-conflict-copy": edit_on_both_sides_conflicts,
    "8-noop-run": further_run_is_a_noop,
    "9-local-folder-rename": local_folder_rename_is_one_move,
    "10-server-move-and-folder-delete": server_file_move_and_folder_delete,
    "11-server-edit-same-second": server_edit_same_second,
}
