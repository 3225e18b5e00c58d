"""The `ocis` command equivalent to each TUI action (the `@` log), quoted for a POSIX shell."""

from __future__ import annotations

import shlex
from collections.abc import Sequence


def remote(space: str | None, path: str) -> str:
    """`ocis`'s remote path syntax: `/a` in the personal space, `SPACE:/a` elsewhere."""
    return path if space is None else f"{space}:{path}"


def command(action: str, *, space: str | None = None, path: str = "/", target: str = "",
            local: str = "", context: str = "", folder: bool = False,
            options: Sequence[str] = ()) -> str:
    """The CLI line for `action`; `space` is a space name (None for the personal space).
    The sharing actions take their other arguments (recipient, `--role`, share id) in `options`."""
    where = remote(space, path)
    args: list[str]
    if action == "ls":
        args = ["ls", where]
    elif action == "spaces":
        args = ["spaces", "ls"]
    elif action == "mkdir":
        args = ["mkdir", where]
    elif action in ("rename", "move"):
        args = ["mv", where, remote(space, target)]
    elif action == "copy":
        args = ["cp", where, remote(space, target)]
    elif action == "delete":
        args = ["rm", "-r", where] if folder else ["rm", where]
    elif action == "upload":
        args = ["put", local, where]
    elif action == "download":
        args = ["get", where, local]
    elif action == "find":          # `target` is the name pattern
        args = ["find", target] + (["--space", space] if space else [])
    elif action == "trash":
        args = ["trash", "ls"] + ([space] if space else [])
    elif action == "restore":
        args = ["trash", "restore", target] + ([space] if space else [])
    elif action == "share-add":
        args = ["share", "add", where, *options]
    elif action == "link-create":
        args = ["link", "create", where, *options]
    elif action in ("share-rm", "share-accept", "share-decline", "share-hide", "share-ls",
                    "link-ls", "link-rm"):
        noun, verb = action.split("-")
        args = [noun, verb, *options]
    else:
        raise ValueError(f"no CLI equivalent for {action!r}")
    prefix = ["ocis"] + (["--context", context] if context else [])
    return shlex.join(prefix + args)
