"""What several command modules share: the -o and -y options, asking before a destructive verb
(and running one), reading a password, and verbs that join a service's `ocis <service>` group."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Format, err, is_tty, print_error, print_result
from ocis_cli.runner import open_client, run

if TYPE_CHECKING:
    from ocis_cli.client import Client

T = TypeVar("T")

OutputOption = Annotated[Format, typer.Option(
    "--output", "-o", help="table, wide (adds ids and URLs) or json")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(question: str, yes: bool) -> bool:
    """-y answers yes; a terminal is asked (default No); without a terminal it is a usage error."""
    if yes:
        return True
    if not is_tty(sys.stdin):
        raise CliError("confirmation needed: run it again with -y (stdin is not a terminal)",
                       ExitCode.USAGE)
    return typer.confirm(question, default=False)


def run_confirmed(ctx: typer.Context, yes: bool, output: Format, *,
                  find: Callable[[Client], Awaitable[T]], question: Callable[[T], str],
                  act: Callable[[Client, T], Awaitable[tuple[Any, str]]],
                  declined: str = "nothing deleted") -> None:
    """A destructive verb: find the thing, ask `question(thing)` (or take -y), then `act` on it
    and print the (JSON, text) it returns; declining says `declined` and exits NOTHING_TO_DO."""

    async def body() -> ExitCode | None:
        async with open_client(ctx) as client:
            thing = await find(client)
            if not confirm(question(thing), yes):
                err(declined)
                return ExitCode.NOTHING_TO_DO
            data, text = await act(client, thing)
        print_result(output, data, text)
        return None

    run(body)


def env_password() -> str:
    """--password-from-env: $OCIS_PASSWORD, or occ's $OC_PASS."""
    value = os.environ.get("OCIS_PASSWORD") or os.environ.get("OC_PASS")
    if not value:
        raise CliError("--password-from-env given but OCIS_PASSWORD is not set", ExitCode.USAGE)
    return value


def read_password_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", ExitCode.USAGE) from None


def require_password_prompt() -> None:
    """Prompting for a password needs a terminal; otherwise it is a usage error."""
    if not is_tty(sys.stdin):
        raise CliError("--password-from-env or --password-file required when not interactive",
                       ExitCode.USAGE)


def service_group(app: typer.Typer, name: str, help_text: str, panel: str) -> typer.Typer:
    """The `ocis <name>` group the runtime module made for `ocis <name> server` (or a new one,
    added to `app` under `panel`), with `help_text` as its help."""
    from .runtime import SERVICE_APPS

    group = SERVICE_APPS.get(name)
    if group is None:
        group = typer.Typer(no_args_is_help=True)
        app.add_typer(group, name=name, rich_help_panel=panel)
    for info in app.registered_groups:       # `ocis users` shows with the users, not the services
        if info.typer_instance is group:
            info.rich_help_panel = panel
    group.info.help = help_text
    return group


def registered_group(app: typer.Typer, name: str) -> typer.Typer:
    """The `ocis <name>` group already on `app` (e.g. `storage-users`, made by `runtime.register`),
    for commands that extend it."""
    group = next((info.typer_instance for info in app.registered_groups
                  if info.name == name and info.typer_instance is not None), None)
    if group is None:
        raise RuntimeError(f"no {name} command group to extend")
    return group


def exit_with(message: str, code: ExitCode) -> typer.Exit:
    """Print `error: message` and return the Exit to raise with `code`."""
    print_error(message)
    return typer.Exit(int(code))
