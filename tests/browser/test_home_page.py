"""The start page `/` in headless Chromium as a newcomer meets it: what the server is and how to
connect, then sign in through the IdP (the `web` client), see one's spaces and the share waiting,
open a space's `/f/<id>` page, sign out. Screenshots are kept in the test's tmp dir and copied to
$OCIS_ARTIFACTS (default /tmp/ocis-artifacts); the paths are printed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import RealServer, launch_real_server
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow
MARIE = ("marie", "radioactivity")
SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("home-browser"),
                            {"FRONTEND_AUTO_ACCEPT_SHARES": "false"}) as srv:
        dav = f"{srv.url}/remote.php/webdav"
        assert requests.request("MKCOL", f"{dav}/Lab notes", auth=MARIE, timeout=10).ok
        resp = requests.post(f"{srv.url}{SHARES}", params={"format": "json"}, auth=MARIE,
                             data={"shareType": "0", "path": "/Lab notes", "shareWith": "einstein",
                                   "permissions": "1"},
                             headers={"OCS-APIREQUEST": "true"}, timeout=10)
        assert resp.status_code == 200, resp.text
        yield srv


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("chromium and chromedriver are not installed: run scripts/install-test-tools.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--window-size=1000,1000"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(30)
    try:
        yield chrome
    finally:
        chrome.quit()


def wait_for(browser: webdriver.Chrome, element_id: str):  # type: ignore[no-untyped-def]
    try:
        return WebDriverWait(browser, 15).until(
            ec.presence_of_element_located((By.ID, element_id)))
    except TimeoutException:
        text = browser.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"no #{element_id} on {browser.current_url}:\n{text[:2000]}")


def keep(browser: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    browser.save_screenshot(str(shot))
    artifacts = Path(os.environ.get("OCIS_ARTIFACTS", "/tmp/ocis-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / name)
    print(f"screenshot: {artifacts / name}")
    return shot


def test_start_page_sign_in_spaces_and_waiting_shares(server: RealServer,
                                                       browser: webdriver.Chrome,
                                                       tmp_path: Path) -> None:
    browser.get(server.url + "/")
    assert wait_for(browser, "server-url").text == server.url
    assert wait_for(browser, "webdav-url").text == f"{server.url}/remote.php/webdav/"
    assert wait_for(browser, "login-command").text == f"ocis login {server.url}"
    assert "ownCloud Infinite Scale" in browser.title
    keep(browser, tmp_path, "home-signed-out.png")

    browser.find_element(By.ID, "signin").click()
    wait_for(browser, "username").send_keys("einstein")
    browser.find_element(By.ID, "password").send_keys("relativity")
    browser.find_element(By.ID, "submit").click()
    assert "Albert Einstein" in wait_for(browser, "signed-in").text
    assert browser.current_url.rstrip("/") == server.url
    spaces = wait_for(browser, "spaces")
    assert "Albert Einstein" in spaces.text and "personal" in spaces.text
    assert "/dav/spaces/" in spaces.text
    waiting = wait_for(browser, "waiting")
    assert "Lab notes" in waiting.text and "Marie" in waiting.text
    keep(browser, tmp_path, "home-signed-in.png")

    # the share's link opens its /f/<id> page with the same sign-in (no Basic prompt)
    waiting.find_element(By.LINK_TEXT, "Lab notes").click()
    assert wait_for(browser, "name").text == "Lab notes"
    assert "/f/" in browser.current_url

    # the web client's redirect target opened by hand leads home, not to a bare 404
    browser.get(server.url + "/oidc-callback.html")
    wait_for(browser, "signed-in")
    browser.get(server.url + "/oidc-silent-redirect.html")
    wait_for(browser, "signed-in")

    browser.find_element(By.ID, "signout").click()
    wait_for(browser, "signin")
    assert not browser.find_elements(By.ID, "spaces")
