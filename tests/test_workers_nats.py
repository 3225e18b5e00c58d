"""OCIS_WORKERS=2 with the event bus on NATS (OCIS_EVENTS_ENDPOINT): an upload through worker 1
reaches an SSE stream held by worker 0 once (each worker consumes its own `clientlog-<node>`
group), and a share's notification is written once (the userlog group is consumed by worker 0
alone) and reaches the recipient's stream on worker 1 as `userlog-notification` (the workers
share one event origin)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import launch_real_server
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from tests.test_workers import EINSTEIN, MARIE, NOTES, SSE_PATH, _auth, _sse_lines, call, pinned

pytestmark = pytest.mark.scaleout


def test_events_across_workers_on_nats(tmp_path: Path, nats_server: NatsServer) -> None:  # noqa: F811
    env = {"OCIS_WORKERS": "2", "OCIS_WORKERS_DEBUG": "true",
           "OCIS_EVENTS_ENDPOINT": nats_server.address}
    with launch_real_server(tmp_path / "srv", env) as srv:
        w0, w1 = pinned(srv, 0), pinned(srv, 1)
        streams = []
        try:
            for index, user in ((0, EINSTEIN), (1, MARIE)):
                stream = pinned(srv, index)
                streams.append(stream)
                stream.putrequest("GET", SSE_PATH)
                stream.putheader("Authorization", _auth(user))
                stream.endheaders()
                assert stream.sock is not None
                head = b""
                while b": connected" not in head:
                    head += stream.sock.recv(65536)
                assert f"X-Ocis-Worker: {index}".encode() in head
            time.sleep(1.0)              # the per-worker consumer groups are in place
            assert call(w1, "PUT", "/remote.php/dav/files/einstein/n.txt", b"n",
                        user=EINSTEIN)[0] == 201
            lines = _sse_lines(streams[0], 3.0)
            assert lines.count("event: postprocessing-finished") == 1, lines
            status, _, body = call(w0, "POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                                   "path=/n.txt&shareType=0&shareWith=marie&permissions=1",
                                   user=EINSTEIN, Content_Type="application/x-www-form-urlencoded")
            assert status == 200, body
            lines = _sse_lines(streams[1], 4.0)
            assert lines.count("event: userlog-notification") == 1, lines
            for conn in (w0, w1):
                notes = json.loads(call(conn, "GET", NOTES, user=MARIE)[2])["ocs"]["data"]
                assert [n["subject"] for n in notes] == ["Resource shared"], notes
        finally:
            for conn in (w0, w1, *streams):
                conn.close()
