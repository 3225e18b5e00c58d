"""Public link pages in headless Chromium (Debian's chromium + chromedriver via selenium) as a
person uses them: open a protected link, enter a wrong then the right password, download a file,
and drop a file into a file-drop link. A screenshot of each page is kept in the pytest tmp dir."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import RealServer, launch_real_server
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow
EINSTEIN = ("einstein", "relativity")
SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("links-browser")) as srv:
        dav = f"{srv.url}/remote.php/webdav"
        assert requests.request("MKCOL", f"{dav}/Photos", auth=EINSTEIN, timeout=10).ok
        assert requests.put(f"{dav}/Photos/moon.txt", data=b"the moon", auth=EINSTEIN,
                            timeout=10).ok
        assert requests.request("MKCOL", f"{dav}/Inbox", auth=EINSTEIN, timeout=10).ok
        yield srv


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("chromium and chromedriver are not installed: run scripts/install-test-tools.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--window-size=1000,800"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(30)
    try:
        yield chrome
    finally:
        chrome.quit()


def create_link(server: RealServer, path: str, **fields: str) -> str:
    resp = requests.post(f"{server.url}{SHARES}", params={"format": "json"}, auth=EINSTEIN,
                         data={"shareType": "3", "path": path, **fields},
                         headers={"OCS-APIREQUEST": "true"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["ocs"]["data"]["url"])


def wait_for(browser: webdriver.Chrome, element_id: str):  # type: ignore[no-untyped-def]
    return WebDriverWait(browser, 15).until(ec.presence_of_element_located((By.ID, element_id)))


def wait_for_file(path: Path, timeout: float = 15.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not path.with_name(path.name + ".crdownload").exists():
            return path.read_bytes()
        time.sleep(0.1)
    pytest.fail(f"{path.name} was not downloaded")


def test_open_protected_link_and_download(server: RealServer, browser: webdriver.Chrome,
                                          downloads: Path, tmp_path: Path) -> None:
    url = create_link(server, "/Photos", password="Secret123!")
    browser.get(url)
    wait_for(browser, "password").send_keys("not-it")
    browser.find_element(By.ID, "submit").click()
    assert "Wrong password" in wait_for(browser, "error").text
    wait_for(browser, "password").send_keys("Secret123!")
    browser.find_element(By.ID, "submit").click()
    listing = wait_for(browser, "listing")
    assert "moon.txt" in listing.text
    browser.save_screenshot(str(tmp_path / "public-link-listing.png"))
    browser.find_element(By.LINK_TEXT, "moon.txt").click()
    assert wait_for_file(downloads / "moon.txt") == b"the moon"


def test_drop_a_file_into_a_file_drop(server: RealServer, browser: webdriver.Chrome,
                                      tmp_path: Path) -> None:
    url = create_link(server, "/Inbox", permissions="4")
    local = tmp_path / "report.txt"
    local.write_bytes(b"my report")
    for _ in range(2):
        browser.get(url)
        wait_for(browser, "file").send_keys(str(local))
        browser.find_element(By.ID, "upload").click()
        assert "Uploaded" in wait_for(browser, "notice").text
    browser.save_screenshot(str(tmp_path / "public-link-file-drop.png"))
    dav = f"{server.url}/remote.php/webdav/Inbox"
    assert requests.get(f"{dav}/report.txt", auth=EINSTEIN, timeout=10).content == b"my report"
    assert requests.get(f"{dav}/report (2).txt", auth=EINSTEIN, timeout=10).content == b"my report"
    assert "(2)" not in browser.page_source          # the dropper learns no names
