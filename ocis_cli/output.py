"""How commands print: tables (rich on a TTY, TSV when piped), JSON, sizes, dates and errors.

stdout carries data only; messages, progress and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO

from ocis_cli.exitcodes import ExitCode


class Format(StrEnum):
    table = "table"
    wide = "wide"
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


@dataclass(frozen=True, slots=True)
class Col:
    """A table column. `wide`: only with `-o wide` (and in piped output): long ids and URLs.
    `fold`: free text (paths, names) that folds onto more lines when the terminal is narrow;
    every other column stays on one line, so a short value is never cut to a letter a line."""

    header: str
    wide: bool = False
    fold: bool = False


def print_table(columns: Sequence[Col | str], rows: Sequence[Sequence[Any]], *,
                output: Format = Format.table, stream: TextIO | None = None) -> None:
    """A rich table that fits the terminal; `-o wide` adds the wide columns and never cuts a cell
    (kubectl). Piped: the same columns as tab-separated lines without a header (gh)."""
    out = stream or sys.stdout
    cols = [c if isinstance(c, Col) else Col(c, fold=True) for c in columns]
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if not is_tty(out):
        shown = [i for i, c in enumerate(cols) if output is Format.wide or not c.wide]
        for row in cells:
            out.write("\t".join(row[i].replace("\t", " ").replace("\n", " ") for i in shown)
                      + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    if output is Format.wide:
        _print_wide(out, cols, cells)
        return
    from rich.console import Console
    from rich.table import Table

    shown = [i for i, c in enumerate(cols) if not c.wide]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for i in shown:
        col = cols[i]
        longest = max((len(row[i]) for row in cells), default=0)
        if col.fold:
            table.add_column(col.header, overflow="fold",
                             min_width=min(max(len(col.header), 12), max(longest, 1)))
        else:
            table.add_column(col.header, no_wrap=True, overflow="ellipsis")
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    Console(file=out, no_color="NO_COLOR" in os.environ, highlight=False).print(table)


def _print_wide(out: TextIO, cols: Sequence[Col], cells: list[list[str]]) -> None:
    """`-o wide`: every column, no cell cut or folded; long lines wrap in the terminal (kubectl)."""
    widths = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    bold, plain = ("", "") if "NO_COLOR" in os.environ else ("\x1b[1m", "\x1b[0m")
    header = "  ".join(c.header.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()
    out.write(f"{bold}{header}{plain}\n")
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def human_size(n: int | None) -> str:
    """1536 -> '1.5 KiB'; None -> '-' (IEC units everywhere: ocis_cli.client.units)."""
    from ocis_cli.client.units import human_size as shared

    return shared(n)


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
    """A time for a table cell: ISO 8601 UTC with `Z`, or '-'."""
    from ocis_cli.client.units import iso_time

    return iso_time(value) or "-"


def day(text: str | None) -> str:
    """A server time string shortened for a table cell: its UTC date, or '-' (JSON keeps the time)."""
    from ocis_cli.client.units import iso_text

    iso = iso_text(text)
    return iso[:10] if iso else "-"
