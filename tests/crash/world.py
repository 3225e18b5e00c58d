"""The crash tests' shared world: one server on one data directory, the ledger of acknowledged
writes, and the check run after every crash: restart, verify everything over HTTP, stop, then
`ocis backup consistency` on the stopped data path."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ocis_server.runtime.maintenance import consistency

from .harness import DAV, CrashServer, Ledger, body_of, sha1

SEED = 20261126   # kill delays are drawn from this: a failing run repeats exactly


@dataclass
class World:
    server: CrashServer
    ledger: Ledger = field(default_factory=Ledger)
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    crash_points: list[str] = field(default_factory=list)
    garbage: dict[str, int] = field(default_factory=dict)   # crash leftovers --repair cleared
    probe_seq: int = 0

    def up(self) -> CrashServer:
        if self.server.proc is None:
            self.server.start()
        return self.server

    def dest(self, path: str) -> str:
        """A Destination header value (starts the server first: the port changes per start)."""
        return self.up().dest(path)

    def delay(self, top: float = 0.03) -> float:
        return self.rng.uniform(0.0, top)

    # --- acknowledged setup writes ------------------------------------------------------------

    def put(self, path: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        resp = self.up().request("PUT", DAV + path, data, headers)
        assert resp.status in (201, 204), (path, resp.status, resp.body[:200])
        self.ledger.add_file(path, data)

    def mkcol(self, path: str) -> None:
        resp = self.up().request("MKCOL", DAV + path)
        assert resp.status == 201, (path, resp.status)
        self.ledger.folders.add(path)

    def tree(self, top: str, seed: int, files: int = 6) -> None:
        """A folder three levels deep with `files` files spread over it."""
        self.mkcol(top)
        self.mkcol(f"{top}/a")
        self.mkcol(f"{top}/a/b")
        where = (top, f"{top}/a", f"{top}/a/b")
        for i in range(files):
            self.put(f"{where[i % 3]}/f{i}.bin", body_of(seed * 100 + i, 1000 + 997 * i))

    # --- after a crash ------------------------------------------------------------------------

    def recover(self, point: str) -> CrashServer:
        """The server was killed: start it again on the same data."""
        assert self.server.proc is None, "kill the server before recover()"
        self.crash_points.append(point)
        self.server.start()
        return self.server

    def note(self, outcome: str) -> None:
        """What a racing crash point turned out to be (shown in the suite's summary)."""
        self.crash_points[-1] += f" -> {outcome}"

    def content(self, path: str) -> bytes | None:
        resp = self.server.request("GET", DAV + path)
        if resp.status == 404:
            return None
        assert resp.status == 200, (path, resp.status)
        return resp.body

    def verify(self) -> None:
        """Everything acknowledged is there, whole; nothing else is; sizes and etags agree; then
        the consistency check on the stopped server passes."""
        srv = self.server
        listed_files, listed_folders = self._walk()
        assert set(listed_files) == set(self.ledger.files), (
            f"extra {sorted(set(listed_files) - set(self.ledger.files))} "
            f"missing {sorted(set(self.ledger.files) - set(listed_files))}")
        assert listed_folders == self.ledger.folders
        for path, data in self.ledger.files.items():
            assert listed_files[path] == len(data), path
            got = self.content(path)
            assert got is not None and sha1(got) == sha1(data), f"{path}: content differs"
        for path, props in self.ledger.props.items():
            row = srv.propfind(path, "0")[0]
            for name, value in props.items():
                assert row.get(name) == value, (path, name, row.get(name))
        self._probe_etag()
        srv.stop()
        self.check_consistency()

    def _walk(self) -> tuple[dict[str, int], set[str]]:
        """Depth-1 PROPFIND over the whole tree; each folder's size must be its children's sum."""
        files: dict[str, int] = {}
        folders: set[str] = set()
        todo = ["/"]
        while todo:
            path = todo.pop()
            rows = self.server.propfind(path, "1")
            me, children = rows[0], rows[1:]
            folders.add(path)
            total = 0
            for row in children:
                size = int(row.get("size") or row.get("getcontentlength") or 0)
                total += size
                if row.get("resourcetype") == "collection":
                    todo.append(row["path"])
                else:
                    files[row["path"]] = int(row.get("getcontentlength", "-1"))
            assert int(me["size"]) == total, f"{path}: size {me['size']}, children sum {total}"
        return files, folders

    def _probe_etag(self) -> None:
        """A write after the restart still changes the root etag (propagation works)."""
        before = self.server.propfind("/", "0")[0]["getetag"]
        self.probe_seq += 1
        self.put("/probe.txt", f"probe {self.probe_seq}".encode())
        after = self.server.propfind("/", "0")[0]["getetag"]
        assert before and after and before != after

    def check_consistency(self) -> None:
        """`ocis backup consistency` on the stopped server. A kill in the window between a durable
        file operation and the metadata commit (or between the commit and the cleanup after it)
        may leave garbage that nothing references and nobody can see: an unreferenced blob, or
        an upload's partial data whose session was already committed. That, and only that, may
        be found (no upload temp file: the server sweeps them when it starts); --repair must then clear it (blobs go to lost+found). Wrong sizes, etags,
        missing blobs or dangling rows are failures."""
        report, _ = consistency(self.server.data_path)
        if report.ok:
            return
        kinds = {f.kind for f in report.findings}
        garbage = [f for f in report.findings if f.kind == "orphan_blob"
                   or (f.kind == "temp_file" and f.subject.startswith("uploads/"))]
        assert garbage == report.findings, [f.as_dict() for f in report.findings]
        first, after = consistency(self.server.data_path, do_repair=True)
        assert after is not None and after.ok, after
        for finding in first.findings:
            self.garbage[finding.kind] = self.garbage.get(finding.kind, 0) + 1
        if self.crash_points:
            self.crash_points[-1] += f" [--repair cleared {len(first.findings)} x " \
                f"{'/'.join(sorted(kinds))}]"
