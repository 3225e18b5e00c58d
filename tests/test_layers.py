"""The layer rules of the README's Layout hold: import-linter contracts, and a clean import of the SDK."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FOREIGN_TO_SDK = ("typer", "rich", "textual", "ocis_server", "click")


def _env() -> dict[str, str]:
    return {**os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    binary = str(lint) if lint.exists() else shutil.which("lint-imports")
    if binary is None:
        pytest.fail("import-linter is not installed: scripts/setup.sh --test installs it")
    proc = subprocess.run([binary, "--no-cache"], cwd=REPO_ROOT, env=_env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout, proc.stdout[-6000:]


def test_sdk_import_loads_no_cli_tui_or_server_module() -> None:
    code = ("import sys, ocis_cli.client\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FOREIGN_TO_SDK!r})\n"
            "print('\\n'.join(bad))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "", f"`import ocis_cli.client` loaded:\n{proc.stdout}"
