"""The `ocis` entry point (`ocis`, `ocis-py`, `python -m ocis_cli`).

`ocis server` goes straight to the runtime: the typer app with its command modules (typer, click,
pydantic: about 10 MiB) would otherwise stay resident in the server process for its whole life.
Every other command line, `ocis server --help` included, goes to the typer app (ocis_cli.main).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import print_error


def serve(only: list[str] | None = None) -> int:
    """`ocis server` (or `ocis <service> server` with `only`): run the runtime until stopped; the
    exit status. An uninitialised or broken config is reported as the CLI reports errors."""
    from ocis_server.config import ConfigError, load_config

    try:
        config = load_config()
        config.require_initialized()
    except ConfigError as exc:
        print_error(exc.message)
        return int(ExitCode.NOT_INITIALISED)
    from ocis_server.runtime.main import run_server

    code = run_server(config) if only is None else run_server(config, only=only)
    return int(code or 0)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["server"] and "_OCIS_COMPLETE" not in os.environ:
        raise SystemExit(serve())
    from ocis_cli.main import main as cli_main

    cli_main()
