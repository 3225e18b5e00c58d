"""Thumbnails on the public link pages in headless Chromium: a protected folder link shows a
thumbnail beside each image once unlocked, a file link shows the picture itself; the browser
really loads them (naturalWidth) under the pages' Content-Security-Policy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import RealServer, launch_real_server
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .test_public_link_pages import EINSTEIN, browser, create_link, downloads, wait_for

pytestmark = pytest.mark.slow
__all__ = ["browser", "downloads"]      # fixtures shared with test_public_link_pages


def png(size: tuple[int, int], color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("link-thumbs")) as srv:
        dav = f"{srv.url}/remote.php/webdav"
        assert requests.request("MKCOL", f"{dav}/Album", auth=EINSTEIN, timeout=10).ok
        for name, data in (("sunset.png", png((300, 200), "orange")),
                           ("notes.txt", b"a text file"), ("data.bin", b"\x00\x01")):
            assert requests.put(f"{dav}/Album/{name}", data=data, auth=EINSTEIN, timeout=10).ok
        assert requests.put(f"{dav}/poster.png", data=png((300, 200), "purple"), auth=EINSTEIN,
                            timeout=10).ok
        yield srv


def loaded(image) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """What the browser decoded (0 x 0 when the image failed or was blocked)."""
    return int(image.get_property("naturalWidth")), int(image.get_property("naturalHeight"))


def test_protected_folder_link_shows_thumbnails(server: RealServer, browser: webdriver.Chrome,
                                                tmp_path: Path) -> None:
    url = create_link(server, "/Album", password="Secret123!")
    token = url.rstrip("/").rpartition("/")[2]
    # Without the password the thumbnail is not handed out.
    assert requests.get(f"{server.url}/s/{token}/preview", params={"path": "sunset.png"},
                        timeout=10).status_code == 401
    browser.get(url)
    wait_for(browser, "password").send_keys("Secret123!")
    browser.find_element(By.ID, "submit").click()
    listing = wait_for(browser, "listing")
    thumbs = listing.find_elements(By.CSS_SELECTOR, "td.thumb img")
    # The image and the text file have a thumbnail, the binary file has none.
    assert len(thumbs) == 2
    # a text thumbnail is rendered on request (a worker thread): let the browser finish loading
    # (`complete` is also true for an image that failed, which the size check below then catches)
    WebDriverWait(browser, 30).until(lambda _: all(t.get_property("complete") for t in thumbs))
    for thumb in thumbs:
        assert loaded(thumb) == (64, 64), thumb.get_attribute("src")
    browser.save_screenshot(str(tmp_path / "link-thumbnails.png"))


def test_file_link_shows_the_picture(server: RealServer, browser: webdriver.Chrome,
                                     tmp_path: Path) -> None:
    browser.get(create_link(server, "/poster.png"))
    picture = wait_for(browser, "preview")
    assert loaded(picture) == (300, 200)       # fitted in 1920x1080, never scaled up
    browser.save_screenshot(str(tmp_path / "link-file-preview.png"))
