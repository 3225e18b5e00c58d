"""Run the real `ocis` CLI with its stdout on a pseudo-terminal of a given width, as a person sees
it (rich tables only render on a terminal), and return the text without colour codes."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_terminal(args: list[str], env: dict[str, str], cwd: Path, *, columns: int = 80,
                    timeout: float = 60.0) -> tuple[int, str, str]:
    """(exit code, what the terminal showed, stderr) of `python -m ocis_cli ARGS`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {**env, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", *args], env=full_env, cwd=cwd,
                            stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:                     # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    _, stderr = proc.communicate(timeout=timeout)
    text = _ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")
    return proc.returncode, text, stderr.decode("utf-8", "replace")
