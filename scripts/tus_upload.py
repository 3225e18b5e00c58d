#!/usr/bin/env python3
"""Upload client for scripts/bench-uploads.sh: a 1 GiB file over TUS or chunking NG, timed.

  tus_upload.py hash FILE CHUNK > hashes.json      # SHA1 of the file and of each CHUNK-sized piece
  tus_upload.py tus BASE_URL USER PASS FILE HASHES NAME   # prints the seconds the upload took
  tus_upload.py ng  BASE_URL USER PASS FILE HASHES NAME
  tus_upload.py chunks BASE_URL - - FILE HASHES NAME  # client ceiling: the same 10 MB PUTs to a
                                                      # plain WebDAV server as NAME/<offset>, no auth

BASE_URL is the server root (http://127.0.0.1:port). Hashing is done once by `hash`, so the timed
uploads only read, send and wait. Standard library only (http.client, one keep-alive connection).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import sys
import time
import uuid
from urllib.parse import quote, urlsplit

BLOCK = 1 << 20


def do_hash(path: str, chunk: int) -> None:
    whole, pieces = hashlib.sha1(), []
    with open(path, "rb") as f:
        while data := f.read(chunk):
            whole.update(data)
            pieces.append(hashlib.sha1(data).hexdigest())
    json.dump({"chunk": chunk, "sha1": whole.hexdigest(), "chunks": pieces}, sys.stdout)


class Client:
    def __init__(self, base: str, user: str, password: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.conn = http.client.HTTPConnection(self.host, self.port, blocksize=BLOCK)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200, 201, 204)
                ) -> http.client.HTTPResponse:
        hdrs = {"Authorization": self.auth, **(headers or {})}
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        resp.read()
        if resp.status not in ok:
            raise SystemExit(f"{method} {path}: HTTP {resp.status} {resp.reason}")
        return resp


def chunks(path: str, size: int):
    with open(path, "rb") as f:
        offset = 0
        while data := f.read(size):
            yield offset, data
            offset += len(data)


def tus(client: Client, user: str, path: str, hashes: dict, name: str, total: int) -> None:
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    (("filename", name), ("checksum", f"sha1 {hashes['sha1']}")))
    resp = client.request("POST", f"/remote.php/dav/files/{quote(user)}/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(total), "Upload-Metadata": meta,
        "Content-Length": "0"}, ok=(201,))
    location = urlsplit(resp.getheader("Location")).path
    for i, (offset, data) in enumerate(chunks(path, hashes["chunk"])):
        digest = base64.b64encode(bytes.fromhex(hashes["chunks"][i])).decode()
        client.request("PATCH", location, body=data, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": f"sha1 {digest}"}, ok=(204,))


def ng(client: Client, user: str, path: str, hashes: dict, name: str, total: int) -> None:
    base = f"/remote.php/dav/uploads/{quote(user)}/{uuid.uuid4().hex}"
    client.request("MKCOL", base, headers={"OC-Total-Length": str(total)}, ok=(201,))
    for offset, data in chunks(path, hashes["chunk"]):
        client.request("PUT", f"{base}/{offset:016d}", body=data,
                       headers={"OC-Total-Length": str(total)}, ok=(201, 204))
    dest = f"http://{client.host}:{client.port}/remote.php/dav/files/{quote(user)}/{quote(name)}"
    client.request("MOVE", f"{base}/.file", headers={
        "Destination": dest, "OC-Total-Length": str(total),
        "OC-Checksum": f"SHA1:{hashes['sha1']}"}, ok=(201, 204))


def plain_chunks(client: Client, user: str, path: str, hashes: dict, name: str, total: int
                 ) -> None:
    for offset, data in chunks(path, hashes["chunk"]):
        client.request("PUT", f"/{quote(name)}/{offset:016d}", body=data, ok=(201, 204))


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "hash":
        do_hash(argv[1], int(argv[2]))
        return
    if len(argv) != 7 or argv[0] not in MODES:
        raise SystemExit(__doc__)
    mode, base, user, password, path, hash_file, name = argv
    with open(hash_file) as f:
        hashes = json.load(f)
    total = os.path.getsize(path)
    client = Client(base, user, password)
    start = time.perf_counter()
    MODES[mode](client, user, path, hashes, name, total)
    print(f"{time.perf_counter() - start:.3f}")


MODES = {"tus": tus, "ng": ng, "chunks": plain_chunks}

if __name__ == "__main__":
    main(sys.argv[1:])
