"""The forwarding time-outs are settings (PROXY_FORWARD_CONNECT_TIMEOUT, PROXY_FORWARD_READ_TIMEOUT,
config/schema.py): a node that stops answering (SIGSTOP: it takes the connection, says nothing)
costs a forwarded request the read time-out set, then 502 in the service's body, not 300 s.
Two real `ocis server` processes over a real nats-server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ADMIN_PASSWORD
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from tests.test_scaleout_proxy import make_node

pytestmark = pytest.mark.scaleout
EINSTEIN = ("einstein", "relativity")


def test_a_silent_node_answers_502_after_the_read_timeout_set(
        nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    shared = {"MICRO_REGISTRY": "nats-js-kv", "MICRO_REGISTRY_ADDRESS": nats_server.address,
              "EXPERIMENTAL_REGISTER_TTL": "10", "EXPERIMENTAL_REGISTER_INTERVAL": "0.5",
              "STORAGE_USERS_HTTP_ADDR": "127.0.0.1:0"}
    front = make_node("front", tmp_path / "front", shared | {
        "OCIS_EXCLUDE_RUN_SERVICES": "graph,ocdav", "PROXY_FORWARD_READ_TIMEOUT": "1.5",
        "PROXY_FORWARD_CONNECT_TIMEOUT": "2"})
    front.workdir.mkdir(parents=True)
    init = front.ocis("init", "--insecure", "true", "--admin-password", ADMIN_PASSWORD)
    assert init.returncode == 0, init.stderr
    shown = front.ocis("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "forward_read_timeout" in shown.stdout and "1.5" in shown.stdout
    back = make_node("back", tmp_path / "back", shared | {
        "OCIS_RUN_SERVICES": "storage-users,users,graph,ocdav,proxy",
        "OCIS_CONFIG_DIR": front.env["OCIS_CONFIG_DIR"], "OCIS_URL": front.url})
    back.workdir.mkdir(parents=True)
    front.start()
    try:
        back.start()
        me = f"{front.url}/graph/v1.0/me"
        deadline = time.monotonic() + 15
        while (status := requests.get(me, auth=EINSTEIN, timeout=30).status_code) == 503:
            assert time.monotonic() < deadline, "the front never found graph"
            time.sleep(0.3)
        assert status == 200
        assert back.proc is not None
        os.kill(back.proc.pid, signal.SIGSTOP)       # takes connections, answers nothing
        try:
            started = time.monotonic()
            answer = requests.get(me, auth=EINSTEIN, timeout=60)
            took = time.monotonic() - started
        finally:
            os.kill(back.proc.pid, signal.SIGCONT)
        assert answer.status_code == 502, answer.text
        assert answer.json()["error"]["message"] and "Traceback" not in answer.text
        assert 1.4 <= took < 10, took                # the setting, not the 300 s default
    finally:
        back.stop()
        front.stop()
