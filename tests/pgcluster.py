"""A throw-away PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temp dir, listening on a free
loopback port, trust authentication for the `ocis` role, stopped and removed afterwards.

initdb refuses to run as root: as root (CI) the cluster runs as the `postgres` user of Debian's
package, through `runuser`. The binaries are found on PATH or in /usr/lib/postgresql/<v>/bin
(Debian 12 keeps them there); missing ones fail the test (docs/decisions/0000), installed by
scripts/install-test-tools.sh.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import free_port


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if not candidates:
        pytest.fail(f"{name} (PostgreSQL server) not found: run scripts/install-test-tools.sh")
    return candidates[-1]


@dataclass
class PgCluster:
    dir: Path
    port: int
    as_user: list[str] = field(default_factory=list)   # runuser prefix when we are root

    @property
    def url(self) -> str:
        return f"postgresql://ocis@127.0.0.1:{self.port}/ocis"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            log = (self.dir / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{' '.join(args[:2])} exited {done.returncode}: "
                        f"{done.stdout}{done.stderr}{tail}"[-4000:])

    def start(self) -> None:
        # -k: the Unix socket stays in our dir (not /var/run/postgresql); TCP on loopback only.
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_binary("pg_ctl"), "-D", str(self.dir / "data"), "-l",
                  str(self.dir / "server.log"), "-o", options, "-w", "-t", "30", "start")

    def stop(self) -> None:
        self._run(_binary("pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def psql(self, sql: str) -> str:
        """Run one statement as the superuser `ocis`; its unaligned output."""
        done = subprocess.run(
            [*self.as_user, _binary("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "ocis",
             "-d", "ocis", "-At", "-c", sql], capture_output=True, text=True, timeout=30,
            check=True)
        return done.stdout.strip()


@pytest.fixture
def postgres() -> Iterator[PgCluster]:
    """A running cluster with an empty database `ocis`, owned by the superuser `ocis`."""
    with throwaway_cluster() as cluster:
        yield cluster


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    """The fixture's cluster, also for scripts (scripts/bench_postgres.py)."""
    base = Path(tempfile.mkdtemp(prefix="ocis-pg-"))   # under /tmp: the postgres user can enter
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the `postgres` user of Debian's postgresql package")
        os.chown(base, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = PgCluster(dir=base, port=free_port(), as_user=as_user)
    try:
        cluster._run(_binary("initdb"), "-D", str(base / "data"), "-U", "ocis", "--auth=trust",
                     "-E", "UTF8", "--locale=C", "--no-sync")
        cluster.start()
        subprocess.run([*as_user, _binary("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port),
                        "-U", "ocis", "ocis"], check=True, capture_output=True, timeout=30)
        yield cluster
    finally:
        subprocess.run([*as_user, _binary("pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)
