"""The IdP's pages in headless Chromium (Debian's chromium + chromedriver, driven by selenium) as a
person uses them: sign in (a wrong password first), allow an application, enter a device code."""

from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import shutil
import threading
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from conftest import RealServer, free_port, launch_real_server
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from ocis_server.services.idp.clients import DESKTOP_ID, DESKTOP_SECRET

pytestmark = pytest.mark.slow
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("idp-browser"),
                            {"IDP_DEVICE_POLL_INTERVAL": "1"}) as srv:
        yield srv


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("chromium and chromedriver are not installed: run scripts/install-test-tools.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--window-size=1000,800"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(30)
    try:
        yield chrome
    finally:
        chrome.quit()


class Callback(http.server.BaseHTTPRequestHandler):
    """The desktop app's loopback redirect listener: remembers the query it was called with."""
    received: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        Callback.received.append(dict(parse_qsl(urlsplit(self.path).query)))
        body = b"<html><body><p id='done'>Signed in. Return to the app.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    Callback.received = []
    srv = http.server.HTTPServer(("127.0.0.1", free_port()), Callback)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def wait_for(browser: webdriver.Chrome, element_id: str):  # type: ignore[no-untyped-def]
    return WebDriverWait(browser, 15).until(ec.presence_of_element_located((By.ID, element_id)))


def sign_in(browser: webdriver.Chrome, username: str, password: str) -> None:
    wait_for(browser, "username").clear()
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "submit").click()


def test_person_signs_in_and_allows_the_desktop_app(server: RealServer, browser: webdriver.Chrome,
                                                    loopback: str) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {"client_id": DESKTOP_ID, "redirect_uri": loopback, "response_type": "code",
             "scope": "openid offline_access email profile", "prompt": "consent",
             "state": "s-123", "code_challenge": challenge.decode(),
             "code_challenge_method": "S256"}
    browser.get(f"{server.url}/signin/v1/identifier/_/authorize?{urlencode(query)}")
    assert "ownCloud desktop app" in wait_for(browser, "login").text or \
        "ownCloud desktop app" in browser.page_source
    sign_in(browser, "einstein", "not-his-password")
    assert "Wrong user name or password" in wait_for(browser, "error").text
    sign_in(browser, "einstein", "relativity")
    wait_for(browser, "allow")
    assert "einstein" in browser.page_source and "stay signed in" in browser.page_source
    browser.find_element(By.ID, "allow").click()
    wait_for(browser, "done")
    answers = [q for q in Callback.received if "code" in q]   # not the favicon request
    assert len(answers) == 1 and answers[0]["state"] == "s-123"
    code = answers[0]["code"]
    tokens = requests.post(f"{server.url}/konnect/v1/token", auth=(DESKTOP_ID, DESKTOP_SECRET),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": loopback, "code_verifier": verifier}, timeout=10)
    assert tokens.status_code == 200, tokens.text
    info = requests.get(f"{server.url}/konnect/v1/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert info.json()["preferred_username"] == "einstein"


def test_person_enters_a_device_code(server: RealServer, browser: webdriver.Chrome) -> None:
    start = requests.post(f"{server.url}/konnect/v1/device_authorization",
                          data={"client_id": "ocis-cli", "scope": "openid offline_access"},
                          timeout=10).json()
    browser.get(start["verification_uri"])
    sign_in(browser, "marie", "radioactivity")
    field = wait_for(browser, "user_code")
    field.clear()
    field.send_keys(start["user_code"].lower())          # typed casually: case does not matter
    browser.find_element(By.ID, "submit").click()
    wait_for(browser, "allow")
    assert "ocis command line" in browser.page_source and "marie" in browser.page_source
    browser.find_element(By.ID, "allow").click()
    assert "Device connected" in wait_for(browser, "message").find_element(By.XPATH, "..").text
    tokens = requests.post(f"{server.url}/konnect/v1/token", timeout=10, data={
        "grant_type": DEVICE_GRANT, "device_code": start["device_code"], "client_id": "ocis-cli"})
    assert tokens.status_code == 200, tokens.text
    # the access token works on every API through the proxy (PROXY-AUTH verifies it)
    bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    me = requests.get(f"{server.url}/graph/v1.0/me", timeout=10, headers=bearer)
    assert me.status_code == 200 and me.json()["onPremisesSamAccountName"] == "marie"
    dav = requests.request("PROPFIND", f"{server.url}/remote.php/dav/files/marie/", timeout=10,
                           headers={**bearer, "Depth": "0"})
    assert dav.status_code == 207
    ocs = requests.get(f"{server.url}/ocs/v2.php/cloud/user?format=json", timeout=10,
                       headers=bearer)
    assert ocs.status_code == 200 and ocs.json()["ocs"]["data"]["id"] == "marie"
