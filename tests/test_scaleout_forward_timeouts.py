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

from tests.kit.cluster import front_and_back, registry_env
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.scaleout
EINSTEIN = ("einstein", "relativity")


def test_a_silent_node_answers_502_after_the_read_timeout_set(
        nats_server: NatsServer, tmp_path: Path) -> None:  # noqa: F811
    front, back = front_and_back(tmp_path, registry_env(nats_server, ttl=10), {
        "PROXY_FORWARD_READ_TIMEOUT": "1.5", "PROXY_FORWARD_CONNECT_TIMEOUT": "2"})
    shown = front.ocis("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "forward_read_timeout" in shown.stdout and "1.5" in shown.stdout
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
