"""Thumbnails over HTTP against a real server (`?preview=1&x=&y=` on every DAV namespace and on
public links), as oCIS's acceptance suite coreApiWebdavPreviews asks: each format, sizes and
processors, the store (a second request makes nothing), a changed file, hostile images (a PNG
declaring 50000x50000, a truncated JPEG, a text file named .png) and who may see what."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.services.thumbnails import service as thumbnail_service

SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "OCS-APIREQUEST": "true"}


EINSTEIN = basic("einstein", "relativity")
MARIE = basic("marie", "radioactivity")
HOME = "/remote.php/dav/files/einstein"


def image_bytes(fmt: str, size: tuple[int, int], color: str = "red", **save: Any) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **save)
    return buf.getvalue()


def animated_gif(size: tuple[int, int], frames: int) -> bytes:
    images = [Image.new("RGB", size, c) for c in ("red", "green", "blue", "yellow")[:frames]]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR for a huge image, followed by a few compressed bytes: what
    a decompression bomb looks like before any pixel is read."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 65536)) + chunk(b"IEND", b""))


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def put(self, path: str, body: bytes, headers: dict[str, str] = EINSTEIN) -> None:
        async with self.session.put(self.url + path, data=body, headers=headers) as resp:
            assert resp.status in (201, 204), (path, resp.status)

    async def get(self, path: str, headers: dict[str, str] | None = EINSTEIN,
                  **params: str) -> tuple[int, str, bytes]:
        query = {"preview": "1", **params}
        async with self.session.get(self.url + path, params=query, headers=headers) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

    async def thumb(self, path: str, headers: dict[str, str] | None = EINSTEIN,
                    **params: str) -> Image.Image:
        status, ctype, body = await self.get(path, headers, **params)
        assert status == 200, (path, status, body[:300])
        image = Image.open(io.BytesIO(body))
        assert ctype == Image.MIME[image.format], (ctype, image.format)
        return image

    async def link(self, path: str, **fields: str) -> str:
        async with self.session.post(self.url + SHARES, params={"format": "json"},
                                     data={"shareType": "3", "path": path, **fields},
                                     headers=EINSTEIN) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["ocs"]["data"]["token"])

    async def prop(self, path: str, name: str, headers: dict[str, str] = EINSTEIN) -> str:
        body = (f'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
                f"<oc:{name}/></d:prop></d:propfind>")
        async with self.session.request("PROPFIND", self.url + path, data=body,
                                        headers={**headers, "Depth": "0"}) as resp:
            text = await resp.text()
        start = text.index(f"<oc:{name}>") + len(f"<oc:{name}>")
        return text[start:text.index(f"</oc:{name}>")]


def dav_error(body: bytes) -> tuple[str, str]:
    text = body.decode()
    exception = text.split("<s:exception>")[1].split("</s:exception>")[0]
    message = text.split("<s:message>")[1].split("</s:message>")[0]
    return exception, message


async def start(tmp_path: Path, **env: str) -> Any:
    config = make_test_config(tmp_path, **env)
    return embedded_server(config, only=["ocdav", "frontend"])


@pytest.fixture
async def dav(tmp_path: Path):
    async with await start(tmp_path) as srv, aiohttp.ClientSession() as session:
        client = Client(session, srv.url)
        client.srv = srv  # type: ignore[attr-defined]
        yield client


def renders(srv: Any) -> int:
    return thumbnail_service._SHARED[id(srv.ctx)][1].store.renders


async def test_every_format_and_size(dav: Client) -> None:
    await dav.put(f"{HOME}/photo.jpg", image_bytes("JPEG", (1240, 648), "blue"))
    await dav.put(f"{HOME}/pic.png", image_bytes("PNG", (300, 200), "green"))
    await dav.put(f"{HOME}/anim.gif", animated_gif((120, 80), 3))
    await dav.put(f"{HOME}/shot.webp", image_bytes("WEBP", (400, 300), "yellow"))
    await dav.put(f"{HOME}/notes.txt", "hello world\nsecond line".encode())
    for name, fmt in (("photo.jpg", "JPEG"), ("pic.png", "PNG"), ("anim.gif", "GIF"),
                      ("shot.webp", "JPEG"), ("notes.txt", "JPEG")):
        image = await dav.thumb(f"{HOME}/{name}")           # oCIS default: 32x32
        assert (image.format, image.size) == (fmt, (32, 32)), name
    # Colours survive: the JPEG thumbnail of a blue image is blue.
    r, g, b = (await dav.thumb(f"{HOME}/photo.jpg")).convert("RGB").getpixel((16, 16))
    assert b > 200 and r < 60 and g < 60
    # An animated GIF stays animated, every frame resized.
    gif = await dav.thumb(f"{HOME}/anim.gif", x="64", y="64")
    assert gif.n_frames == 3 and gif.size == (64, 64)
    # Text: black writing on a white page, scaled down from oCIS's 640x480.
    page = (await dav.thumb(f"{HOME}/notes.txt", x="1920", y="1080")).convert("L")
    assert page.size == (640, 480)
    assert page.getpixel((600, 400)) > 240 and min(page.crop((10, 10, 120, 30)).getdata()) < 100


async def test_sizes_processors_and_ignored_params(dav: Client) -> None:
    await dav.put(f"{HOME}/wide.png", image_bytes("PNG", (200, 100)))
    await dav.put(f"{HOME}/tiny.png", image_bytes("PNG", (20, 10)))
    assert (await dav.thumb(f"{HOME}/wide.png", x="64", y="64")).size == (64, 64)   # cropped
    assert (await dav.thumb(f"{HOME}/wide.png", x="64", y="64", processor="fit")).size == (64, 32)
    assert (await dav.thumb(f"{HOME}/wide.png", x="64", y="64",
                            processor="resize")).size == (64, 64)
    # The closest configured resolution at least as large: 100 -> 128, capped by the source.
    assert (await dav.thumb(f"{HOME}/wide.png", x="100", y="100")).size == (128, 128)
    assert (await dav.thumb(f"{HOME}/wide.png", x="1000", y="1000")).size == (200, 100)
    assert (await dav.thumb(f"{HOME}/tiny.png", x="32", y="32")).size == (20, 10)   # no upscale
    # What ownCloud Web sends (a=1, c=<etag>, scalingup=0) changes nothing, as in oCIS.
    _, _, plain = await dav.get(f"{HOME}/wide.png", x="64", y="64")
    _, _, webish = await dav.get(f"{HOME}/wide.png", x="64", y="64", a="1", c="abc",
                                 scalingup="0")
    assert plain == webish
    # preview=0 is the file itself.
    async with dav.session.get(f"{dav.url}{HOME}/wide.png", params={"preview": "0"},
                               headers=EINSTEIN) as resp:
        assert await resp.read() == image_bytes("PNG", (200, 100))


@pytest.mark.parametrize("value", ["0", "-1", "0.5", "A", "true", "%2F"])
async def test_invalid_width_and_height(dav: Client, value: str) -> None:
    await dav.put(f"{HOME}/parent.txt", b"text")
    status, _, body = await dav.get(f"{HOME}/parent.txt", x=value, y="32")
    assert status == 400
    assert dav_error(body) == ("Sabre\\DAV\\Exception\\BadRequest",
                               "Cannot set width of 0 or smaller!")
    status, _, body = await dav.get(f"{HOME}/parent.txt", x="32", y=value)
    assert (status, dav_error(body)[1]) == (400, "Cannot set height of 0 or smaller!")


async def test_what_has_no_thumbnail(dav: Client) -> None:
    async with dav.session.request("MKCOL", f"{dav.url}{HOME}/sub", headers=EINSTEIN) as resp:
        assert resp.status == 201
    status, _, body = await dav.get(f"{HOME}/sub/")
    assert (status, dav_error(body)[1]) == (400, "Unsupported file type")
    for name in ("simple.pdf", "data.zip"):
        await dav.put(f"{HOME}/{name}", b"%PDF-1.4 not really")
        status, _, body = await dav.get(f"{HOME}/{name}")
        assert status == 404
        assert dav_error(body) == ("Sabre\\DAV\\Exception\\NotFound",
                                   f"File with name {name} could not be located")
    status, _, body = await dav.get(f"{HOME}/missing.png")
    assert (status, dav_error(body)[1]) == (404, "File with name missing.png could not be located")


async def test_hostile_images_are_refused_fast(dav: Client) -> None:
    await dav.put(f"{HOME}/bomb.png", png_declaring(50000, 50000))
    await dav.put(f"{HOME}/big.png", png_declaring(8000, 8000))
    truncated = image_bytes("JPEG", (800, 600), "blue")
    await dav.put(f"{HOME}/cut.jpg", truncated[: len(truncated) // 2])
    await dav.put(f"{HOME}/liar.png", b"this is no image at all")
    started = time.monotonic()
    for name in ("bomb.png", "big.png"):
        status, _, body = await dav.get(f"{HOME}/{name}")
        assert (status, dav_error(body)[1]) == (403, "thumbnails: image is too large"), name
    for name in ("cut.jpg", "liar.png"):
        status, ctype, body = await dav.get(f"{HOME}/{name}")
        assert status == 404 and "xml" in ctype, (name, status, body[:200])
        assert dav_error(body)[0] == "Sabre\\DAV\\Exception\\NotFound"
    assert time.monotonic() - started < 5
    # ... and the server still makes thumbnails afterwards.
    await dav.put(f"{HOME}/ok.png", image_bytes("PNG", (50, 50)))
    assert (await dav.thumb(f"{HOME}/ok.png")).size == (32, 32)


async def test_input_caps_from_settings(tmp_path: Path) -> None:
    async with await start(tmp_path, THUMBNAILS_MAX_INPUT_IMAGE_FILE_SIZE="1KB",
                           THUMBNAILS_MAX_INPUT_WIDTH="200", THUMBNAILS_MAX_INPUT_HEIGHT="200",
                           THUMBNAILS_RESOLUTIONS="16x16,48x48") as srv, \
            aiohttp.ClientSession() as session:
        dav = Client(session, srv.url)
        await dav.put(f"{HOME}/big.png", image_bytes("PNG", (300, 100)))
        await dav.put(f"{HOME}/heavy.txt", b"lorem ipsum " * 200)
        await dav.put(f"{HOME}/test.txt", b"hello world")
        for name in ("big.png", "heavy.txt"):
            status, _, body = await dav.get(f"{HOME}/{name}")
            assert (status, dav_error(body)[1]) == (403, "thumbnails: image is too large")
        assert (await dav.thumb(f"{HOME}/test.txt", x="40", y="40")).size == (48, 48)


async def test_previews_can_be_disabled(tmp_path: Path) -> None:
    async with await start(tmp_path, OCIS_DISABLE_PREVIEWS="true") as srv, \
            aiohttp.ClientSession() as session:
        dav = Client(session, srv.url)
        await dav.put(f"{HOME}/pic.png", image_bytes("PNG", (50, 50)))
        assert (await dav.get(f"{HOME}/pic.png"))[0] == 404


async def test_store_serves_the_second_request_and_a_changed_file_gets_a_new_one(
        dav: Client, tmp_path: Path) -> None:
    srv = dav.srv  # type: ignore[attr-defined]
    await dav.put(f"{HOME}/big.jpg", image_bytes("JPEG", (3000, 2000), "blue"))
    before = renders(srv)
    first = await dav.get(f"{HOME}/big.jpg", x="128", y="128")
    stored = [p for p in (tmp_path / "data" / "thumbnails").rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == first[2]
    inode = stored[0].stat().st_ino, stored[0].stat().st_mtime_ns
    second = await dav.get(f"{HOME}/big.jpg", x="128", y="128", c="etag")
    assert second[2] == first[2] and renders(srv) == before + 1
    assert (stored[0].stat().st_ino, stored[0].stat().st_mtime_ns) == inode   # not rewritten
    # Many at once: made once, every caller gets it.
    results = await asyncio.gather(*(dav.get(f"{HOME}/big.jpg", x="64", y="64")
                                     for _ in range(8)))
    assert {r[2] for r in results} == {results[0][2]} and renders(srv) == before + 2
    # New content, new thumbnail (oCIS: "preview content changes with the change in file content").
    await dav.put(f"{HOME}/big.jpg", image_bytes("JPEG", (3000, 2000), "red"))
    changed = await dav.thumb(f"{HOME}/big.jpg", x="128", y="128")
    r, g, b = changed.convert("RGB").getpixel((64, 64))
    assert r > 200 and b < 60 and renders(srv) == before + 3


async def test_store_is_bounded(tmp_path: Path) -> None:
    async with await start(tmp_path, THUMBNAILS_CACHE_MAX_SIZE="120KB") as srv, \
            aiohttp.ClientSession() as session:
        dav = Client(session, srv.url)
        for n in range(6):     # noise: each 128x128 PNG thumbnail is about 49 KB
            noise = Image.frombytes("RGB", (128, 128), os.urandom(128 * 128 * 3))
            buf = io.BytesIO()
            noise.save(buf, "PNG")
            await dav.put(f"{HOME}/p{n}.png", buf.getvalue())
            await dav.thumb(f"{HOME}/p{n}.png", x="128", y="128")
        files = [p for p in (tmp_path / "data" / "thumbnails").rglob("*") if p.is_file()]
        assert 1 <= len(files) <= 2 and sum(p.stat().st_size for p in files) <= 120_000
        # The newest is kept, the oldest went.
        assert (await dav.get(f"{HOME}/p5.png", x="128", y="128"))[2] == files_by_age(files)[-1]


def files_by_age(files: list[Path]) -> list[bytes]:
    return [p.read_bytes() for p in sorted(files, key=lambda p: p.stat().st_mtime_ns)]


async def test_spaces_urls_and_other_users(dav: Client) -> None:
    await dav.put(f"{HOME}/pic.png", image_bytes("PNG", (300, 200)))
    space = await dav.prop(f"{HOME}/", "spaceid")
    fileid = await dav.prop(f"{HOME}/pic.png", "fileid")
    assert (await dav.thumb(f"/dav/spaces/{space}/pic.png")).size == (32, 32)
    assert (await dav.thumb(f"/remote.php/dav/spaces/{fileid}", x="64", y="64")).size == (64, 64)
    assert (await dav.thumb("/remote.php/webdav/pic.png")).size == (32, 32)
    assert (await dav.thumb("/webdav/pic.png")).size == (32, 32)
    # Marie sees nothing of Einstein's: the same 404 as a missing file.
    for path in (f"{HOME}/pic.png", f"/dav/spaces/{space}/pic.png",
                 f"/remote.php/dav/spaces/{fileid}"):
        status, _, body = await dav.get(path, headers=MARIE)
        assert status == 404, (path, status)
        assert dav_error(body)[0] == "Sabre\\DAV\\Exception\\NotFound"
    assert (await dav.get(f"{HOME}/pic.png", headers=None))[0] == 401
    assert await dav.prop(f"{HOME}/pic.png", "has-preview") == "1"
    await dav.put(f"{HOME}/doc.pdf", b"%PDF")
    assert await dav.prop(f"{HOME}/doc.pdf", "has-preview") == "0"


async def test_public_links_with_and_without_password(dav: Client) -> None:
    async with dav.session.request("MKCOL", f"{dav.url}{HOME}/album", headers=EINSTEIN) as resp:
        assert resp.status == 201
    await dav.put(f"{HOME}/album/pic.png", image_bytes("PNG", (300, 200)))
    await dav.put(f"{HOME}/single.jpg", image_bytes("JPEG", (300, 200)))
    open_link = await dav.link("/album")
    for root in ("/dav/public-files", "/remote.php/dav/public-files"):
        image = await dav.thumb(f"{root}/{open_link}/pic.png", headers=None, x="64", y="64")
        assert image.size == (64, 64)
    file_link = await dav.link("/single.jpg")
    assert (await dav.thumb(f"/dav/public-files/{file_link}/single.jpg", headers=None)).size \
        == (32, 32)
    closed = await dav.link("/album", password="Secret-pass-1!")
    assert (await dav.get(f"/dav/public-files/{closed}/pic.png", headers=None))[0] == 401
    wrong = basic("public", "wrong-password")
    assert (await dav.get(f"/dav/public-files/{closed}/pic.png", headers=wrong))[0] == 401
    right = basic("public", "Secret-pass-1!")
    assert (await dav.thumb(f"/dav/public-files/{closed}/pic.png", headers=right)).size \
        == (32, 32)
    assert (await dav.get(f"/dav/public-files/{open_link}/nope.png", headers=None))[0] == 404


async def test_capability_tells_clients(tmp_path: Path) -> None:
    for env, enabled in (({}, True), ({"OCIS_DISABLE_PREVIEWS": "true"}, False)):
        async with await start(tmp_path / str(enabled), **env) as srv, \
                aiohttp.ClientSession() as session:
            async with session.get(srv.url + "/ocs/v1.php/cloud/capabilities",
                                   params={"format": "json"}) as resp:
                caps = (await resp.json())["ocs"]["data"]["capabilities"]
        thumbnail = caps["files"]["thumbnail"]
        assert thumbnail["enabled"] is enabled
        assert ("image/webp" in thumbnail["supportedMimeTypes"]) is enabled
