"""tuspy (the tus.io Python client) against our TUS endpoint: chunked uploads and a resumed one.

The client POSTs to a folder URL (creation), PATCHes chunks to the returned Location, and after an
interruption a new uploader asks the server for its offset (HEAD) and sends only the rest.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from .helpers import OC, Dav, personal_space_id

pytestmark = pytest.mark.slow
CHUNK = 64 * 1024
DATA = hashlib.sha256(b"tuspy").digest() * (300 * 1024 // 32) + b"tail"   # ~300 KiB, 5 chunks


def tus_client(server_url: str, user: str, password: str, folder_path: str):
    from tusclient import client
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return client.TusClient(server_url + folder_path, headers={"Authorization": f"Basic {token}"})


def sha1_prop(dav: Dav, path: str) -> str:
    checksums = dav.propfind(path, "0", ("oc:checksums",))[0].props.get(f"{OC}checksums", "")
    return next((part.split(":", 1)[1].lower() for part in checksums.split()
                 if part.upper().startswith("SHA1:")), "")


def make_folder(dav: Dav, path: str) -> None:
    dav.mkcol(path)


@pytest.mark.parametrize("flavour", ["webdav", "files", "spaces"])
def test_tuspy_uploads_in_chunks(real_server, tmp_path: Path, flavour: str) -> None:
    dav = Dav(real_server.url, *real_server.admin)
    user = real_server.admin_user
    folder = {"webdav": "/remote.php/webdav/tuspy-{f}/",
              "files": f"/remote.php/dav/files/{user}/tuspy-{{f}}/",
              "spaces": f"/remote.php/dav/spaces/{personal_space_id(dav, user)}/tuspy-{{f}}/",
              }[flavour].format(f=flavour)
    make_folder(dav, folder)
    src = tmp_path / "chunked upload ✓.bin"
    src.write_bytes(DATA)
    uploader = tus_client(real_server.url, *real_server.admin, folder).uploader(
        file_path=str(src), chunk_size=CHUNK, upload_checksum=True,
        metadata={"filename": src.name})
    uploader.upload()
    assert uploader.offset == len(DATA)
    assert dav.get(folder + src.name) == DATA
    assert sha1_prop(dav, folder + src.name) == hashlib.sha1(DATA).hexdigest()


def test_tuspy_empty_file(real_server, tmp_path: Path) -> None:
    """A zero-length upload is complete at creation: only the POST is sent."""
    dav = Dav(real_server.url, *real_server.admin)
    folder = "/remote.php/webdav/tuspy-empty/"
    make_folder(dav, folder)
    src = tmp_path / "empty.txt"
    src.write_bytes(b"")
    tus_client(real_server.url, *real_server.admin, folder).uploader(
        file_path=str(src), metadata={"filename": src.name}).upload()
    assert dav.get(folder + "empty.txt") == b""


def test_tuspy_resumes_an_interrupted_upload(real_server, tmp_path: Path) -> None:
    from tusclient.storage.filestorage import FileStorage

    dav = Dav(real_server.url, *real_server.admin)
    folder = "/remote.php/webdav/tuspy-resume/"
    make_folder(dav, folder)
    src = tmp_path / "resumed.bin"
    src.write_bytes(DATA)
    store = FileStorage(str(tmp_path / "tus-urls.json"))
    client = tus_client(real_server.url, *real_server.admin, folder)

    first = client.uploader(file_path=str(src), chunk_size=CHUNK, upload_checksum=True,
                            metadata={"filename": src.name}, store_url=True, url_storage=store)
    for _ in range(2):                       # two chunks, then the "connection drops"
        first.upload_chunk()
    assert first.offset == 2 * CHUNK
    # An unfinished upload is not a file yet.
    names = [e.href.rstrip("/").rsplit("/", 1)[-1] for e in dav.propfind(folder)]
    assert src.name not in names, names
    assert dav.request("GET", folder + src.name).status == 404

    # A new process: the stored URL is found by fingerprint, the server says where to go on.
    second = client.uploader(file_path=str(src), chunk_size=CHUNK, upload_checksum=True,
                             metadata={"filename": src.name}, store_url=True, url_storage=store)
    assert second.url == first.url
    assert second.offset == 2 * CHUNK, "the server did not report the stored offset (HEAD)"
    patches = 0
    while second.offset < len(DATA):
        second.upload_chunk()
        patches += 1
    assert patches == -(-(len(DATA) - 2 * CHUNK) // CHUNK), "resumed upload re-sent data"
    assert dav.get(folder + src.name) == DATA
    assert sha1_prop(dav, folder + src.name) == hashlib.sha1(DATA).hexdigest()

    # A third uploader resuming from the given URL: the upload is finished, nothing is left.
    from tusclient.exceptions import TusCommunicationError
    try:
        third = client.uploader(file_path=str(src), url=first.url, chunk_size=CHUNK)
    except TusCommunicationError as err:      # the finished session is gone: 404/410 on HEAD
        assert err.status_code in (404, 410), err
    else:
        assert third.offset == len(DATA)
