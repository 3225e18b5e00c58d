"""The `ocis` command equivalent to each TUI action (the `@` log), quoted for a POSIX shell."""

from __future__ import annotations

import shlex


def remote(space: str | None, path: str) -> str:
    """`ocis`'s remote path syntax: `/a` in the personal space, `SPACE:/a` elsewhere."""
    return path if space is None else f"{space}:{path}"


def command(action: str, *, space: str | None = None, path: str = "/", target: str = "",
            local: str = "", context: str = "", folder: bool = False) -> str:
    """The CLI line for `action`; `space` is a space name (None for the personal space)."""
    where = remote(space, path)
    args: list[str]
    if action == "ls":
        args = ["ls", where]
    elif action == "spaces":
        args = ["spaces", "ls"]
    elif action == "mkdir":
        args = ["mkdir", where]
    elif action == "rename":
        args = ["mv", where, remote(space, target)]
    elif action == "delete":
        args = ["rm", "-r", where] if folder else ["rm", where]
    elif action == "upload":
        args = ["put", local, where]
    elif action == "download":
        args = ["get", where, local]
    elif action == "trash":
        args = ["trash", "ls"] + ([space] if space else [])
    elif action == "restore":
        args = ["trash", "restore", target] + ([space] if space else [])
    else:
        raise ValueError(f"no CLI equivalent for {action!r}")
    prefix = ["ocis"] + (["--context", context] if context else [])
    return shlex.join(prefix + args)
