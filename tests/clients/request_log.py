"""A recording reverse proxy (stdlib, in a thread) put between a real client and the server.

It shows what a client really sent, the way /work/shared/tools/davlog_proxy.py does, but lives in
the test process so a test can ask "did this sync PUT or GET anything?" without parsing files.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Requests that move file data or change the tree (the rest: PROPFIND, OPTIONS, HEAD, OCS, status).
TRANSFERS = frozenset({"PUT", "POST", "PATCH", "GET", "MOVE", "COPY", "DELETE", "MKCOL"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                        "proxy-connection", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str                 # percent-decoded request path, no query
    status: int
    headers: dict[str, str]   # request headers, lower-case names

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class RequestLog:
    """Every exchange seen so far; `mark()` + `since(mark)` isolate one client run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Exchange] = []

    def add(self, item: Exchange) -> None:
        with self._lock:
            self._items.append(item)

    def mark(self) -> int:
        with self._lock:
            return len(self._items)

    def since(self, mark: int) -> list[Exchange]:
        with self._lock:
            return list(self._items[mark:])

    @staticmethod
    def file_transfers(items: list[Exchange]) -> list[Exchange]:
        """The data-moving requests on WebDAV / TUS URLs (not the OCS or status.php bootstrap)."""
        return [x for x in items if x.method in TRANSFERS
                and (x.path.startswith("/remote.php/") or x.path.startswith("/data/"))]


def _handler(upstream: urllib.parse.SplitResult, log: RequestLog) -> type[BaseHTTPRequestHandler]:
    upstream_base = f"{upstream.scheme}://{upstream.netloc}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        public_base = ""          # the proxy's own base URL, set once it is bound

        def log_message(self, *args: object) -> None:     # quiet
            pass

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length:
                return self.rfile.read(int(length))
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return b""
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()

        def _forward(self) -> None:
            body = self._body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = self.headers.get("Host", upstream.netloc)
            headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            log.add(Exchange(self.command, path, resp.status,
                             {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() == "location" and value.startswith(upstream_base):
                    value = self.public_base + value[len(upstream_base):]   # TUS PATCHes come back here
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            if self.command != "HEAD" and resp.status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            elif "content-length" in {k.lower() for k, _ in resp.getheaders()}:
                self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            self.end_headers()
            if self.command != "HEAD" and resp.status not in (204, 304):
                self.wfile.write(data)

    for method in TRANSFERS | {"HEAD", "OPTIONS", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK",
                               "REPORT", "SEARCH"}:
        setattr(Handler, f"do_{method}", Handler._forward)
    return Handler


@contextmanager
def recording_proxy(upstream_url: str) -> Iterator[tuple[str, RequestLog]]:
    """`with recording_proxy(server.url) as (url, log):` point the client at `url`."""
    log = RequestLog()
    handler = _handler(urllib.parse.urlsplit(upstream_url), log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.public_base = f"http://127.0.0.1:{server.server_address[1]}"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="recording-proxy", daemon=True)
    thread.start()
    try:
        yield handler.public_base, log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
