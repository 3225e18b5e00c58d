"""`mypy --strict` finds nothing in the three packages: the same check as `make lint`, run by `make test`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ocis_server", "ocis_cli", "ocis_tui")


def test_mypy_strict_is_clean() -> None:
    mypy = Path(sys.executable).with_name("mypy")
    binary = str(mypy) if mypy.exists() else shutil.which("mypy")
    if binary is None:
        pytest.fail("mypy is not installed: scripts/setup.sh --test installs it (the [test] extras)")
    proc = subprocess.run([binary, "--strict", *PACKAGES], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout, proc.stdout[-6000:]
