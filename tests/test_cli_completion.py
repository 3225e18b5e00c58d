"""Dynamic completion in the real shells against a real server: remote paths (in the personal
space, under /Shares, in `SPACE:/path`), space names, recipients and contexts, through the scripts
`ocis completion bash|zsh|fish` prints; what the server answered is cached for a few seconds."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from test_cli import Story

from ocis_cli.completion import CACHE_SECONDS

BIN = Path(sys.executable).parent


def _story(server: Any, root: Path, name: str, password: str) -> Story:
    story = Story(server.env, root / name)
    story.workdir.mkdir(parents=True)
    story.env["XDG_CONFIG_HOME"] = str(story.workdir / "xdg")
    story.env["XDG_CACHE_HOME"] = str(story.workdir / "cache")
    story.env["PATH"] = f"{BIN}{os.pathsep}{story.env.get('PATH', '')}"
    story.login(server.url, name, password)
    return story


def _script(story: Story, shell: str) -> Path:
    path = story.workdir / f"ocis.{shell}"
    path.write_bytes(story.run("completion", shell).stdout)
    return path


def bash(story: Story, line: str) -> list[str]:
    script = _script(story, "bash")
    proc = subprocess.run(
        ["bash", "-c", f'source "{script}"; COMP_LINE="$1"; COMP_POINT=${{#COMP_LINE}}; '
         '_ocis_completion ocis; printf "%s\\n" "${COMPREPLY[@]}"', "bash", line],
        env=story.env, capture_output=True, text=True, timeout=60, check=True)
    return [c for c in proc.stdout.splitlines() if c]


def zsh(story: Story, line: str) -> str:
    """zsh's widgets need a terminal: the script's function runs with `_arguments` printing what
    it was given (the spec zsh would offer)."""
    script = _script(story, "zsh")
    words = line.split(" ")
    proc = subprocess.run(
        ["zsh", "-fc", 'compdef() {}; _arguments() { print -r -- "$@" }; source "$1"; shift; '
         'words=("$@"); CURRENT=$#; _ocis_completion', "zsh", str(script), *words],
        env=story.env, capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout.replace("\\", "")


def fish(story: Story, line: str) -> list[str]:
    script = _script(story, "fish")
    proc = subprocess.run(["fish", "-c", f"source {script}; complete -C $argv[1]", line],
                          env=story.env, capture_output=True, text=True, timeout=60, check=True)
    return [c.split("\t")[0] for c in proc.stdout.splitlines() if c]


@pytest.mark.slow
def test_completion_in_bash_zsh_and_fish(real_server: Any, tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        assert shutil.which(shell), f"{shell} is missing: scripts/install-test-tools.sh installs it"
    assert (BIN / "ocis").exists(), "the ocis console script is not installed in the venv"
    einstein = _story(real_server, tmp_path, "einstein", "relativity")
    marie = _story(real_server, tmp_path, "marie", "radioactivity")
    tag = uuid.uuid4().hex[:6]
    folder = f"Optics-{tag}"
    local = tmp_path / "lens.txt"
    local.write_text("f = 50mm\n")
    einstein.run("mkdir", f"/{folder}")
    einstein.run("mkdir", f"/{folder}/prisms")
    einstein.run("mkdir", f"/{folder}/raw data")
    einstein.run("put", str(local), f"/{folder}/lens.txt")
    einstein.run("share", "add", f"/{folder}", "marie", "--role", "viewer")

    # bash: paths in the personal space, folders end in / (and TAB goes on into them)
    assert f"/{folder}/" in bash(einstein, "ocis ls /Opt")
    assert sorted(bash(einstein, f"ocis get /{folder}/")) == [
        f"/{folder}/lens.txt", f"/{folder}/prisms/", f"/{folder}/raw\\ data/"]
    # a name with a space is inserted quoted, and completes on once typed so
    assert bash(einstein, f"ocis ls /{folder}/raw") == [f"/{folder}/raw\\ data/"]
    # a received share, under /Shares and as a space; bash splits words at ':', so the part
    # before the colon is not repeated
    assert f"/Shares/{folder}/" in bash(marie, "ocis ls /Shares/")
    assert bash(marie, f"ocis get {folder}:/l") == ["/lens.txt"]
    assert f"{folder}:/" in bash(marie, "ocis ls Opt")
    # recipients, spaces, contexts
    assert "marie" in bash(einstein, f"ocis share add /{folder} mar")
    assert "Albert\\ Einstein" in bash(einstein, "ocis trash ls Alb")
    contexts = bash(einstein, "ocis context use ")
    assert len(contexts) == 1 and contexts[0] in real_server.url

    # zsh and fish, through their scripts
    assert f"{folder}:/lens.txt" in zsh(marie, f"ocis get {folder}:/")
    assert f"/Shares/{folder}/" in zsh(marie, "ocis ls /Shares/")
    assert fish(marie, f"ocis get {folder}:/") == [f"{folder}:/lens.txt", f"{folder}:/prisms/",
                                                  f"{folder}:/raw data/"]
    assert f"/Shares/{folder}/" in fish(marie, "ocis ls /Shares/")

    # the answers are cached briefly, in private files of the user's cache dir
    cache = Path(marie.env["XDG_CACHE_HOME"]) / "ocis" / "completion"
    files = list(cache.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert CACHE_SECONDS == 5.0
    marie.env["OCIS_COMPLETION_CACHE_SECONDS"] = "600"
    assert "/new.txt" not in bash(marie, f"ocis get {folder}:/")
    einstein.run("put", str(local), f"/{folder}/new.txt")
    start = time.monotonic()
    assert "/new.txt" not in bash(marie, f"ocis get {folder}:/"), "the cache was not used"
    cached = time.monotonic() - start
    marie.env["OCIS_COMPLETION_CACHE_SECONDS"] = "0"
    start = time.monotonic()
    assert "/new.txt" in bash(marie, f"ocis get {folder}:/")
    print(f"completion: {cached:.2f} s from the cache, {time.monotonic() - start:.2f} s asking")


@pytest.mark.slow
def test_completion_never_fails(tmp_path: Path) -> None:
    """Not logged in (or the server away): nothing is offered, nothing is printed on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIS_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "c"),
                "_OCIS_COMPLETE": "complete_bash", "COMP_WORDS": "ocis ls /d", "COMP_CWORD": "2"})
    proc = subprocess.run([sys.executable, "-m", "ocis_cli"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "" and proc.stderr == ""
