"""A request a front forwards to another node of the instance (runtime/forward.py) carries the
client's address as the front saw it, signed with a key derived from the machine secret: the
serving node's login throttle counts that client, not the front, without PROXY_TRUSTED_PROXIES
on it. The same headers sent by anyone else (a wrong or missing signature) are ignored.
Two real `ocis server` processes over a real nats-server; the front stands behind a load
balancer it trusts (PROXY_TRUSTED_PROXIES=127.0.0.1), which is what says who the client is."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.kit.cluster import Node, front_and_back, registry_env
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.scaleout
EINSTEIN = ("einstein", "relativity")
PASSWORD = "Secret123!"
THROTTLE = {"PROXY_LOGIN_MAX_FAILURES": "3", "PROXY_LOGIN_MAX_FAILURES_PER_ADDRESS": "50",
            "PROXY_LOGIN_FAILURE_DELAY": "0", "PROXY_LOGIN_FAILURE_WINDOW": "300"}


@pytest.fixture
def nodes(nats_server: NatsServer, tmp_path: Path) -> Iterator[tuple[Node, Node]]:  # noqa: F811
    """front: everything but graph and ocdav, behind a trusted balancer; back: graph and ocdav
    and the storage they need, with the front's ocis.toml, and no trusted proxy at all."""
    front, back = front_and_back(tmp_path, registry_env(nats_server) | THROTTLE,
                                 {"PROXY_TRUSTED_PROXIES": "127.0.0.1"})
    front.start()
    try:
        back.start()
        yield front, back
    finally:
        back.stop()
        front.stop()


def _link(back: Node) -> str:
    """A folder of einstein's on the back node with a password-protected public link."""
    base = f"{back.url}/remote.php/dav/files/einstein/guarded"
    assert requests.request("MKCOL", base, auth=EINSTEIN).status_code == 201
    found = re.search(r"<oc:fileid>([^<]+)</oc:fileid>", requests.request(
        "PROPFIND", base, auth=EINSTEIN, headers={"Depth": "0"},
        data='<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/>'
             '</d:prop></d:propfind>').text)
    assert found is not None
    file_id = found.group(1)
    made = requests.post(f"{back.url}/graph/v1beta1/drives/{file_id.split('!')[0]}/items/"
                         f"{file_id}/createLink", auth=EINSTEIN,
                         json={"type": "view", "password": PASSWORD})
    assert made.status_code == 200, made.text
    return str(made.json()["link"]["webUrl"]).rpartition("/s/")[2]


def _open(node: Node, token: str, password: str, headers: dict[str, str]) -> int:
    deadline = time.monotonic() + 15
    while True:
        status = requests.request("PROPFIND", f"{node.url}/dav/public-files/{token}/",
                                  auth=("public", password), headers={"Depth": "0", **headers}
                                  ).status_code
        if status != 503 or time.monotonic() > deadline:     # 503: the front's lookup warming up
            return status
        time.sleep(0.3)


def test_failed_link_passwords_through_the_front_throttle_the_client(
        nodes: tuple[Node, Node]) -> None:
    front, back = nodes
    token = _link(back)
    guesser, other = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "203.0.113.6"}
    assert _open(front, token, PASSWORD, guesser) == 207      # forwarded to the back: served
    for _ in range(3):
        assert _open(front, token, "wrong", guesser) == 401
    assert _open(front, token, PASSWORD, guesser) == 429      # that client, locked out
    assert _open(front, token, PASSWORD, other) == 207        # not the front: others go on
    assert _open(back, token, PASSWORD, {}) == 207            # nor the front's own address


def test_forwarding_headers_without_the_nodes_signature_are_ignored(
        nodes: tuple[Node, Node]) -> None:
    front, back = nodes
    token = _link(back)
    for n in range(3):      # straight to the back, each failure claiming another client
        forged = {"X-Ocis-Forwarded": "front-1", "X-Ocis-Forwarded-Client": f"198.51.100.{n}",
                  "X-Ocis-Forwarded-Signature": f"t={int(time.time())},s={'0' * 64}",
                  "X-Forwarded-For": f"198.51.100.{n}"}
        assert _open(back, token, "wrong", forged) == 401
    # all three counted against the one address they came from
    assert _open(back, token, PASSWORD, {}) == 429
    # a client of the front is another client
    assert _open(front, token, PASSWORD, {"X-Forwarded-For": "203.0.113.7"}) == 207


def test_a_stale_or_altered_signature_is_not_believed() -> None:
    from aiohttp.test_utils import make_mocked_request
    from multidict import CIMultiDict

    from ocis_server.auth.throttle import client_address
    from ocis_server.runtime.forward import CLIENT, FORWARDED, SIGNATURE, hop_mac, vouch

    def request(path: str = "/dav/x", **changed: str) -> object:
        headers = CIMultiDict({FORWARDED: "front-1", CLIENT: "203.0.113.5",
                               "X-Forwarded-For": "203.0.113.5, 127.0.0.1"})
        stamp = str(int(time.time()))
        headers[SIGNATURE] = f"t={stamp},s={hop_mac('s3cret', stamp, 'GET', '/dav/x', headers)}"
        headers.update(changed)
        return make_mocked_request("GET", path, headers=headers)

    good = request()
    vouch(good, "s3cret")  # type: ignore[arg-type]
    assert client_address(good) == "203.0.113.5"
    for bad, secret, now in ((request(), "s3cret", time.time() + 61),        # too old
                             (request(), "another", None),                     # not our instance
                             (request("/dav/y"), "s3cret", None),              # another target
                             (request(**{CLIENT: "203.0.113.9"}), "s3cret", None),
                             (request(**{"X-Forwarded-For": "1.2.3.4"}), "s3cret", None),
                             (request(**{SIGNATURE: "garbage"}), "s3cret", None)):
        vouch(bad, secret, now)  # type: ignore[arg-type]
        assert client_address(bad) != "203.0.113.5"
