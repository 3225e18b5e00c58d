"""The crash tests' shared fixture: one killable server and its ledger per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import CrashServer
from .world import World


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(CrashServer(tmp_path_factory.mktemp("crash")))
    try:
        yield w
    finally:
        w.server.stop()
    print(f"\n{len(w.crash_points)} crash points, garbage cleared by --repair: {w.garbage}")
    for point in w.crash_points:
        print(f"  - {point}")
