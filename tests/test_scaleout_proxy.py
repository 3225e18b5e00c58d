"""Two real nodes over one NATS (MICRO_REGISTRY=nats-js-kv): the front node runs without graph and
ocdav, a second node (same ocis.toml, its own data folder) runs them; the front's proxy forwards to
it through the registry, bodies streamed both ways. Before the second node is up (and after it is
killed) the front answers 503 in the service's own error body; a node killed with kill -9 leaves
`ocis list` within the TTL and makes `ocis health` fail, naming it, until a new instance runs;
while NATS is away the front goes on forwarding to the addresses it knew."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ocis_server.runtime.instance import LOOKUP_TTL
from tests.conftest import ADMIN_PASSWORD
from tests.kit.cluster import Node, front_and_back, registry_env
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.scaleout
TTL, INTERVAL = 2.0, 0.5
ADMIN = ("admin", ADMIN_PASSWORD)


def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"not in {timeout:.0f} s: {what}"
        time.sleep(0.2)


@pytest.fixture
def two_nodes(nats_server: NatsServer, tmp_path: Path) -> Iterator[tuple[Node, Node]]:  # noqa: F811
    """front: everything but graph and ocdav; back: graph and ocdav (and the storage and user
    store they need), with the front's ocis.toml and public URL, its own data folder."""
    front, back = front_and_back(tmp_path, registry_env(nats_server, TTL, INTERVAL), {})
    front.start()
    try:
        yield front, back
    finally:
        back.stop()
        front.stop()


class Web(requests.Session):
    """requests against one base URL as admin, with a time-out."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base, self.auth = base, ADMIN

    def request(self, method: str | bytes, url: str | bytes, *args: Any,  # type: ignore[override]
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return super().request(method, f"{self.base}{url!s}", *args, **kwargs)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_front_forwards_to_the_node_that_registered_the_service(
        two_nodes: tuple[Node, Node], nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    front, back = two_nodes
    with Web(front.url) as web:
        # nobody runs graph or ocdav yet: 503 with Retry-After, each in its protocol's body
        me = web.get("/graph/v1.0/me")
        assert me.status_code == 503 and me.headers["Retry-After"]
        assert "graph" in me.json()["error"]["message"]
        dav = web.request("PROPFIND", "/remote.php/webdav/", headers={"Depth": "0"})
        assert dav.status_code == 503 and b"<d:error" in dav.content
        assert web.get("/graph/v1.0/me", auth=("admin", "wrong")).status_code == 401
        assert web.get("/ocm-provider").status_code == 404     # not enabled: no route at all

        back.start()
        me = until(lambda: (r := web.get("/graph/v1.0/me")).status_code == 200 and r, 10,
                   "the front forwards /graph to the back node")
        assert me.json()["onPremisesSamAccountName"] == "admin"

        # a large body streams to the other node and back
        blob = tmp_path / "big.bin"
        blob.write_bytes(os.urandom(1 << 20) * 12)

        def chunks() -> Iterator[bytes]:
            with blob.open("rb") as source:
                while chunk := source.read(1 << 16):
                    yield chunk
        put = web.put("/remote.php/webdav/big.bin", data=chunks())
        assert put.status_code == 201, put.text
        got = hashlib.sha256()
        with web.get("/remote.php/webdav/big.bin", stream=True) as answer:
            assert answer.status_code == 200
            assert answer.headers["Content-Length"] == str(blob.stat().st_size)
            for chunk in answer.iter_content(1 << 16):
                got.update(chunk)
        assert got.hexdigest() == sha256_file(blob)
        direct = requests.get(f"{back.url}/remote.php/webdav/big.bin", auth=ADMIN, timeout=30)
        assert hashlib.sha256(direct.content).hexdigest() == got.hexdigest()   # stored there

        rows = front.listed()
        back_node = next(r["node"] for r in rows if r["name"] == "graph")
        assert {(r["name"], r["address"]) for r in rows if r["node"] == back_node} >= \
            {("graph", back.url), ("ocdav", back.url)}
        health = front.ocis("health")
        assert health.returncode == 0, health.stdout + health.stderr

        # NATS away for a while: the front keeps forwarding to the addresses it knew
        nats_server.stop(signal.SIGKILL)
        deadline = time.monotonic() + 2 * LOOKUP_TTL + 1
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            assert web.get("/graph/v1.0/me").status_code == 200
            assert time.monotonic() - t0 < 3.0
            time.sleep(0.5)
        nats_server.start()
        until(lambda: front.ocis("health").returncode == 0, TTL * 5, "all registered again")
        assert web.get("/graph/v1.0/me").status_code == 200

        # kill -9: the front answers 503 at once (the dead address is dropped), the node leaves
        # `ocis list` within the TTL, and `ocis health` fails naming it
        assert back.proc is not None
        back.proc.kill()
        back.proc.wait(10)
        t0 = time.monotonic()
        me = web.get("/graph/v1.0/me")
        assert me.status_code == 503 and time.monotonic() - t0 < 2.0
        until(lambda: all(r["node"] != back_node for r in front.listed()), TTL * 3,
              "the killed node leaves `ocis list`")
        health = front.ocis("health")
        assert health.returncode == 1, health.stdout + health.stderr
        assert f"graph@{back_node}" in health.stderr and "stopped renewing" in health.stderr
        as_json = json.loads(front.ocis("health", "-o", "json").stdout)
        assert as_json["detail"]["services"][f"ocdav@{back_node}"].startswith("stopped renewing")

        # a new instance of the services (another process): forwarded again, healthy again
        back.start()
        until(lambda: web.get("/graph/v1.0/me").status_code == 200, 10, "forwarded again")
        until(lambda: front.ocis("health").returncode == 0, TTL * 3, "healthy again")
