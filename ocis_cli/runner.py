"""Runs a command's coroutine and turns every expected failure into `error: ...` plus an exit code.

Commands return `None`/an ExitCode or raise; nothing else in the CLI catches SDK errors.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, print_error

if TYPE_CHECKING:
    from ocis_cli.client import Client
    from ocis_cli.contexts import Context


@dataclass(slots=True)
class AppState:
    """What the top-level callback collected: global options for every command."""

    context_name: str | None = None


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an SDK error (exitcodes.py)."""
    from ocis_cli.client import errors as e

    table: list[tuple[type[BaseException], ExitCode]] = [
        (e.AuthError, ExitCode.AUTH),
        (e.NotFound, ExitCode.NOT_FOUND),
        (e.PermissionDenied, ExitCode.PERMISSION),
        (e.QuotaExceeded, ExitCode.QUOTA),
        (e.Unavailable, ExitCode.TEMPORARY),
        (e.NetworkError, ExitCode.TEMPORARY),
        (e.Locked, ExitCode.TEMPORARY),
    ]
    for kind, code in table:
        if isinstance(exc, kind):
            return code
    return ExitCode.FAILURE


def run(make: Callable[[], Awaitable[ExitCode | None]]) -> None:
    """asyncio.run the command body; map failures to `error: <message>` and the exit code."""
    from ocis_cli.client.errors import AuthError, ClientError
    from ocis_cli.contexts import ContextError

    try:
        code = asyncio.run(_call(make))
    except CliError as exc:
        print_error(str(exc))
        raise typer.Exit(int(exc.code)) from None
    except ContextError as exc:
        print_error(str(exc))
        raise typer.Exit(int(ExitCode.NOT_INITIALISED)) from None
    except AuthError as exc:
        print_error(f"authentication failed ({exc.message}); log in again with `ocis login`")
        raise typer.Exit(int(ExitCode.AUTH)) from None
    except ClientError as exc:
        print_error(exc.message)
        raise typer.Exit(int(exit_code_for(exc))) from None
    except KeyboardInterrupt:
        print_error("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # The reader went away (`ocis get x - | head`): stop quietly, and keep Python from
        # complaining again while flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(int(ExitCode.FAILURE)) from None
    if code:
        raise typer.Exit(int(code))


async def _call(make: Callable[[], Awaitable[ExitCode | None]]) -> ExitCode | None:
    return await make()


def state_of(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState(context_name=os.environ.get("OCIS_CONTEXT") or None)
    return root.obj


def current_context(ctx: typer.Context) -> Context:
    from ocis_cli.contexts import ContextStore

    return ContextStore().resolve(state_of(ctx).context_name)


def open_client(ctx: typer.Context) -> Client:
    """A Client for the selected context (use with `async with`): password or OIDC tokens."""
    from ocis_cli.credentials import client_for

    return client_for(current_context(ctx))
