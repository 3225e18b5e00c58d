"""The exit codes of `ocis` (codes borrowed from gh, rclone and restic), one enum read by commands, docs and tests."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    TEMPORARY = 5
    PERMISSION = 6
    PARTIAL = 7
    QUOTA = 8
    NOTHING_TO_DO = 9
    NOT_INITIALISED = 10
    INTERRUPTED = 130


# What each code means, for `ocis help exit-codes` and every man page's EXIT STATUS section.
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (an empty list is success)",
    ExitCode.FAILURE: "generic failure",
    ExitCode.USAGE: "usage error: bad flag or argument, or a prompt was needed but stdin is not a TTY",
    ExitCode.NOT_FOUND: "not found (space, path, user, share)",
    ExitCode.AUTH: "authentication required or rejected (log in again)",
    ExitCode.TEMPORARY: "temporary failure, a retry may help (network error, 502/503/504, lock busy)",
    ExitCode.PERMISSION: "permission denied (403)",
    ExitCode.PARTIAL: "partial success: some items failed (`ocis health`: degraded, serving "
                      "while a service waits for its disk or LDAP server)",
    ExitCode.QUOTA: "quota exceeded / insufficient storage (507)",
    ExitCode.NOTHING_TO_DO: "nothing to do",
    ExitCode.NOT_INITIALISED: "not initialised: no server config (`ocis init` not run) or no context",
    ExitCode.INTERRUPTED: "interrupted (SIGINT)",
}
