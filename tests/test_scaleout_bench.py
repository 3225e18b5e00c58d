"""scripts/bench_scaleout.py runs end to end with tiny counts (so that it does not rot): all four
layouts start (single process; front + provider; front + two providers with admin's and
einstein's spaces on different ones; two fronts over PostgreSQL), every davbench request is 2xx,
and the table names each layout and phase with a server CPU per request and the extra hop."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.scaleout


def test_bench_scaleout_runs(tmp_path: Path) -> None:
    out = tmp_path / "medians.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "bench_scaleout.py"), "--rounds", "1",
         "--small-count", "30", "--get-count", "30", "--propfind0-count", "30",
         "--concurrency", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=600, check=False, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    homes = re.findall(r"personal spaces per provider: (.*)", done.stderr)
    assert len(homes) == 2                        # layouts c and d spread their users
    for layout in "abcd":
        for phase in ("put_small", "get_small", "propfind0"):
            assert re.search(rf"^{layout}\s+{phase}\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+",
                             done.stdout, re.M), done.stdout
    assert "extra hop (b - a) put_small" in done.stdout
    medians = json.loads(out.read_text())["medians"]
    assert set(medians) == {"a", "b", "c", "d"}
    # every layout did work the server processes paid for (CPU of all of them summed; a
    # single phase of 30 requests may fall under the clock tick of 10 ms)
    assert all(sum(row["cpu_ms"] for row in medians[layout].values()) > 0 for layout in "abcd")
