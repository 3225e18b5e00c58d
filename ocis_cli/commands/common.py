"""What several command modules share: the -o and -y options, asking before a destructive verb,
and verbs that join a service's `ocis <service>` group (next to `ocis <service> server`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Format, is_tty

OutputOption = Annotated[Format, typer.Option("--output", "-o", help="table or json")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(question: str, yes: bool) -> bool:
    """-y answers yes; a terminal is asked (default No); without a terminal it is a usage error."""
    if yes:
        return True
    if not is_tty(sys.stdin):
        raise CliError("confirmation needed: run it again with -y (stdin is not a terminal)",
                       ExitCode.USAGE)
    return typer.confirm(question, default=False)


def service_group(app: typer.Typer, name: str, help_text: str, panel: str) -> typer.Typer:
    """The `ocis <name>` group the runtime module made for `ocis <name> server` (or a new one,
    added to `app` under `panel`), with `help_text` as its help."""
    from .runtime import SERVICE_APPS

    group = SERVICE_APPS.get(name)
    if group is None:
        group = typer.Typer(no_args_is_help=True)
        app.add_typer(group, name=name, rich_help_panel=panel)
    group.info.help = help_text
    return group
