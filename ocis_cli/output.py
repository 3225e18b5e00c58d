"""How commands print: tables (rich on a TTY, TSV when piped), JSON, sizes, dates and errors.

stdout carries data only; messages, progress and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from ocis_cli.exitcodes import ExitCode


class Format(StrEnum):
    table = "table"
    json = "json"


class CliError(Exception):
    """A failure the CLI reports as `error: <message>` and exits with `code`."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.code = code


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def err(message: str) -> None:
    print(message, file=sys.stderr)


def print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")


def print_result(output: Format, value: Any, message: str) -> None:
    """What a command changed: `value` as JSON on stdout with -o json, else `message` on stderr."""
    if output is Format.json:
        print_json(value)
    else:
        err(message)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                stream: TextIO | None = None, no_wrap: Sequence[str] = ()) -> None:
    """A rich table on a terminal; tab-separated lines without a header when piped (gh style).

    Columns named in `no_wrap` (ids people copy) are never folded across lines.
    """
    out = stream or sys.stdout
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if not is_tty(out):
        for row in cells:
            out.write("\t".join(c.replace("\t", " ").replace("\n", " ") for c in row) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in headers:
        table.add_column(name, overflow="fold", no_wrap=name in no_wrap)
    for row in cells:
        table.add_row(*row)
    Console(file=out, no_color="NO_COLOR" in os.environ, highlight=False).print(table)


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int | None) -> str:
    """1536 -> '1.5 KiB'; None -> '-'."""
    if n is None:
        return "-"
    size = float(n)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


_SIZE_FACTORS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2,
                 "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
                 "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_size(text: str) -> int:
    """'50GB' -> 50_000_000_000, '1.5GiB' -> 1610612736, '1024' -> 1024."""
    raw = text.strip().lower().replace(" ", "")
    number = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(number):]
    if not number or unit not in _SIZE_FACTORS:
        raise ValueError(f"not a size: {text!r} (examples: 1024, 500MB, 50GB, 1.5GiB)")
    try:
        value = float(number)
    except ValueError as exc:
        raise ValueError(f"not a size: {text!r}") from exc
    if value < 0:
        raise ValueError(f"a size cannot be negative: {text!r}")
    return int(value * _SIZE_FACTORS[unit])


def iso_utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"
