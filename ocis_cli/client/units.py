"""How sizes and times read for people, the same in the CLI, the TUI and the server's pages: sizes
in IEC binary units (1 KiB = 1024 B, as `ls -h`, rclone and the desktop client count), times as
ISO 8601 in UTC with the `Z` zone. Imported by `ocis_cli.output` and `ocis_tui`; the server's
HTML pages (publiclinks, web) keep copies (the server may not import the CLI) that
tests/test_cli_tables.py holds to this one."""

from __future__ import annotations

from datetime import UTC, datetime

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: float | None) -> str:
    """1536 -> '1.5 KiB', 1023 -> '1023 B', None -> '-'."""
    if n is None:
        return "-"
    size = float(n)
    for unit in UNITS:
        if abs(size) < 1024 or unit == UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def iso_time(value: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC with its zone: '2026-12-14T11:53:58Z'; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """A server's time in any of the forms it sends (ISO 8601 with or without a zone, OCS's
    `2006-01-02 15:04:05` in UTC, a bare date) as an aware datetime; '' or junk -> None."""
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_text(text: str | None) -> str | None:
    """A server's time string as ISO 8601 UTC with `Z` ('' -> None; unparsable text unchanged)."""
    if not text:
        return None
    return iso_time(parse_time(text)) or text
