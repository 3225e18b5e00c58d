"""Real clients on a federated share we sent, straight at zurich's `/dav/ocm/<id>/` with the
shared secret paris received: rclone (webdav backend, vendor owncloud, the secret as bearer
token) copies a tree in and back out of an editor share and is refused writing into a viewer
share; a TUS upload (creation, then PATCH at the signed data URL) lands in the shared folder.
The owner's PROPFIND marks the shared folder with share type 6."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import aiohttp
import pytest
from clients.helpers import debian_rclone, describe, run
from test_ocm_dav import EINSTEIN, Pair, dav, einstein_files, offer_at_paris, pair, share

from ocis_server.domain import roles

__all__ = ["pair"]      # the fixture, used by name
pytestmark = pytest.mark.slow


def rclone_env(url: str, secret: str, tmp: Path) -> dict[str, str]:
    (tmp / "rclone.conf").write_text("")
    return {**os.environ, "RCLONE_CONFIG": str(tmp / "rclone.conf"),
            "RCLONE_CONFIG_OCM_TYPE": "webdav", "RCLONE_CONFIG_OCM_URL": url + "/",
            "RCLONE_CONFIG_OCM_VENDOR": "owncloud", "RCLONE_CONFIG_OCM_BEARER_TOKEN": secret}


async def test_rclone_syncs_through_the_share(pair: Pair, tmp_path: Path) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    rclone = debian_rclone()
    editor = await offer_at_paris(paris, (await share(zurich, "/Physics", roles.EDITOR)).id)
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "one.txt").write_bytes(b"one")
    (src / "deep" / "two.bin").write_bytes(os.urandom(300_000))
    env = rclone_env(editor.uri, editor.secret, tmp_path)
    proc = await asyncio.to_thread(run, [rclone, "copy", str(src), "ocm:in"], env=env)
    assert proc.returncode == 0, describe(proc)
    check = await asyncio.to_thread(run, [rclone, "check", str(src), "ocm:in"], env=env)
    assert check.returncode == 0, describe(check)
    listing = await asyncio.to_thread(run, [rclone, "lsf", "-R", "ocm:"], env=env)
    assert {"a.txt", "in/one.txt", "in/deep/two.bin", "sub/b.txt"} <= set(listing.stdout.split())
    assert "secret.txt" not in listing.stdout
    back = tmp_path / "back"
    proc = await asyncio.to_thread(run, [rclone, "copy", "ocm:", str(back)], env=env)
    assert proc.returncode == 0, describe(proc)
    assert (back / "in" / "deep" / "two.bin").read_bytes() == (src / "deep" / "two.bin").read_bytes()
    assert await dav("GET", f"{zurich.url}/remote.php/webdav/Physics/in/one.txt",
                     auth=EINSTEIN) == (200, "one")
    # A viewer share: rclone reads it, and its copy into it fails.
    viewer = await offer_at_paris(paris, (await share(zurich, "/Private", roles.VIEWER)).id)
    env = rclone_env(viewer.uri, viewer.secret, tmp_path)
    listing = await asyncio.to_thread(run, [rclone, "lsf", "ocm:"], env=env)
    assert listing.stdout.split() == ["secret.txt"], describe(listing)
    proc = await asyncio.to_thread(run, [rclone, "copy", str(src), "ocm:", "--retries", "1",
                                         "--low-level-retries", "1"], env=env)
    assert proc.returncode != 0
    assert (await dav("GET", f"{zurich.url}/remote.php/webdav/Private/one.txt",
                      auth=EINSTEIN))[0] == 404
    # A wrong secret lists nothing.
    wrong = rclone_env(viewer.uri, "not-the-secret", tmp_path)
    assert (await asyncio.to_thread(run, [rclone, "lsf", "ocm:", "--retries", "1"],
                                    env=wrong)).returncode != 0


async def test_tus_upload_and_share_types(pair: Pair) -> None:
    zurich, paris = pair
    await einstein_files(zurich)
    editor = await offer_at_paris(paris, (await share(zurich, "/Physics", roles.EDITOR)).id)
    viewer = await offer_at_paris(paris, (await share(zurich, "/Private", roles.VIEWER)).id)
    name = base64.b64encode(b"tus.txt").decode()
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": "5",
               "Upload-Metadata": f"filename {name}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(viewer.uri + "/", headers={
                **headers, "Authorization": f"Bearer {viewer.secret}"}) as resp:
            assert resp.status == 403
        async with session.post(editor.uri + "/", headers={
                **headers, "Authorization": f"Bearer {editor.secret}"}) as resp:
            assert resp.status == 201, await resp.text()
            location = resp.headers["Location"]
        async with session.patch(location, data=b"hello", headers={
                "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream"}) as resp:
            assert resp.status == 204, await resp.text()
    assert await dav("GET", f"{zurich.url}/remote.php/webdav/Physics/tus.txt",
                     auth=EINSTEIN) == (200, "hello")
    status, body = await dav("PROPFIND", f"{zurich.url}/remote.php/webdav/", auth=EINSTEIN,
                             headers={"Depth": "1"},
                             data=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                                  b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:share-types/>'
                                  b'</d:prop></d:propfind>')
    assert status == 207
    physics = body[body.index("/remote.php/webdav/Physics/"):]
    physics = physics[:physics.index("</d:response>")]
    assert "<oc:share-type>6</oc:share-type>" in physics
    notes = body[body.index("/remote.php/webdav/notes.txt"):]
    assert "<oc:share-type>" not in notes[:notes.index("</d:response>")]
