"""Docs generated from the CLI are current: man pages (one per command) and shell completions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocis_cli.docsgen import SHELLS, command_tree, generate, page_name
from ocis_cli.main import app

REPO_ROOT = Path(__file__).resolve().parent.parent
MAN_DIR = REPO_ROOT / "man"
COMPLETIONS_DIR = REPO_ROOT / "completions"
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "EXIT STATUS", "SEE ALSO")
STALE = "stale: run scripts/gen-docs (python -m ocis_cli.docsgen) and commit man/ and completions/"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("docs")
    generate(base / "man", base / "completions")
    return base / "man", base / "completions"


def _files(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.iterdir()) if p.is_file()}


def test_man_pages_are_current(fresh: tuple[Path, Path]) -> None:
    expected, actual = _files(fresh[0]), _files(MAN_DIR)
    assert sorted(actual) == sorted(expected), STALE
    for name, text in expected.items():
        assert actual[name] == text, f"man/{name} is {STALE}"


def test_completions_are_current(fresh: tuple[Path, Path]) -> None:
    expected, actual = _files(fresh[1]), _files(COMPLETIONS_DIR)
    assert sorted(actual) == sorted(expected) == [f"ocis.{s}" for s in sorted(SHELLS)], STALE
    for name, text in expected.items():
        assert actual[name] == text, f"completions/{name} is {STALE}"


def test_every_command_has_a_complete_page() -> None:
    commands = list(command_tree())
    assert len(commands) > 30
    for words, cmd, _ in commands:
        page = MAN_DIR / f"{page_name(words)}.1"
        assert page.is_file(), f"no man page for `{' '.join(words)}`"
        text = page.read_text(encoding="utf-8")
        for section in SECTIONS:
            assert f'.SH {section}' in text, f"{page.name} lacks {section}"
        if not getattr(cmd, "commands", None):
            assert ".SH EXAMPLES" in text and "ocis " in (cmd.epilog or ""), \
                f"`{' '.join(words)}` has no example in its help"


def test_every_command_answers_help() -> None:
    runner = CliRunner()
    for words, _, _ in command_tree():
        result = runner.invoke(app, [*words[1:], "--help"], prog_name="ocis")
        assert result.exit_code == 0, (words, result.output)
        assert f"Usage: {' '.join(words)}" in " ".join(result.output.split())


def test_man_pages_render_without_warnings() -> None:
    assert shutil.which("man") is not None, "man is missing: scripts/install-test-tools.sh installs man-db"
    for page in sorted(MAN_DIR.glob("*.1")):
        proc = subprocess.run(["man", "--warnings", "-l", str(page)], check=False, capture_output=True,
                              text=True, timeout=30, env={**os.environ, "MANWIDTH": "80"})
        assert proc.returncode == 0 and proc.stderr == "", (page.name, proc.stderr)


def test_completion_scripts_match_what_the_program_prints() -> None:
    """The one documented way to install completions is `ocis completion SHELL`."""
    for shell in SHELLS:
        proc = subprocess.run([sys.executable, "-m", "ocis_cli", "completion", shell], check=False,
                              cwd=REPO_ROOT, text=True, capture_output=True, timeout=60,
                              env={k: v for k, v in os.environ.items() if k != "_OCIS_COMPLETE"})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == (COMPLETIONS_DIR / f"ocis.{shell}").read_text(), shell
    root_help = CliRunner().invoke(app, ["--help"], prog_name="ocis").output
    assert "--install-completion" not in root_help and "--show-completion" not in root_help


def test_help_pages_read_right() -> None:
    """No `<bool>` after a flag, `ocis help` lists its topics and exits 0, the users and app
    token verbs sit with their kind, roles are named as the CLI takes them."""
    runner = CliRunner()
    for words, _, _ in command_tree():
        text = runner.invoke(app, [*words[1:], "--help"], prog_name="ocis",
                             env={"COLUMNS": "100"}).output
        assert "<bool>" not in text, f"`{' '.join(words)} --help` shows <bool>"
        assert "User Light" not in text, f"`{' '.join(words)} --help` names a role the CLI refuses"
    topics = runner.invoke(app, ["help"], prog_name="ocis")
    assert topics.exit_code == 0
    assert all(t in topics.output for t in ("exit-codes", "environment", "paths"))
    root = runner.invoke(app, ["--help"], prog_name="ocis", env={"COLUMNS": "120"}).output
    panels: dict[str, list[str]] = {}
    current = ""
    for line in root.splitlines():
        if line.startswith("╭─"):
            current = line.strip("╭─╮ ").strip()
        elif line.startswith("│ ") and line[2] != " " and current:
            panels.setdefault(current, []).append(line[2:].split()[0])
    assert {"users", "groups"} <= set(panels["Users and groups"]), panels
    assert {"login", "context", "auth-app"} <= set(panels["Account"]), panels
    assert "users" not in panels["Services"] and "auth-app" not in panels["Services"]


def test_bash_completion_completes_subcommands() -> None:
    proc = subprocess.run([sys.executable, "-m", "ocis_cli"], check=False, cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=60,
                          env={**os.environ, "_OCIS_COMPLETE": "complete_bash",
                               "COMP_WORDS": "ocis spaces ", "COMP_CWORD": "2"})
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()) == ["create", "disable", "ls", "members", "purge", "rename",
                                           "restore", "set-quota"]


def test_readme_lists_the_test_tools_the_script_installs() -> None:
    """README's `make test` paragraph names exactly the Debian packages of install-test-tools.sh."""
    script = (REPO_ROOT / "scripts" / "install-test-tools.sh").read_text(encoding="utf-8")
    table = script[script.index("declare -A wanted=("):]
    packages = set(re.findall(r"^\s*\[[\w-]+\]=([\w.-]+)$", table[:table.index(")")], re.M))
    assert {"litmus", "rclone", "zsh", "fish", "man-db"} <= packages
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("That runs `scripts/install-test-tools.sh`")
    paragraph = readme[start:readme.index("\n\n", start)]
    listed = paragraph[paragraph.index("drive: `") + len("drive: `"):]
    listed = listed[:listed.index("`")]
    assert set(listed.split()) == packages, (sorted(set(listed.split()) ^ packages), STALE)
