"""Third-party programs and the team's shared harness the tests drive. A missing one FAILS the test,
never skips it (docs/decisions/0000-record.md): `scripts/install-test-tools.sh` installs them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def require_tool(name: str) -> str:
    """Path of a third-party program; a missing one fails the test (CI installs them all)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/install-test-tools.sh (or `make test`)")
    return path


def shared_dir() -> Path:
    """The team's shared/ folder (CI lays a copy beside the clone); OCIS_SHARED_DIR overrides."""
    from_env = os.environ.get("OCIS_SHARED_DIR")
    path = Path(from_env) if from_env else REPO_ROOT.parent / "shared"
    if not (path / "tools" / "litmus_run.sh").is_file():
        pytest.fail(f"shared tools not found at {path}/tools/litmus_run.sh: the litmus and bench "
                    "harness lives in ../shared beside the repository (set OCIS_SHARED_DIR)")
    return path


def litmus_run() -> Path:
    """The shared litmus wrapper, after checking that litmus itself is installed."""
    require_tool("litmus")
    return shared_dir() / "tools" / "litmus_run.sh"
