"""`ocis tui`: the interactive browser (ocis_tui), started on the current or a named context.

Textual is imported only when the command runs, so `ocis --help` and completion stay fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import print_error
from ocis_cli.runner import state_of

EPILOG = (
    "Examples:\n\n  ocis tui\n  ocis tui --context paris --readonly\n\n"
    "Keys: ? shows them all. q quits (asking first while transfers run), / filters, "
    "d downloads, u uploads, D deletes (asks, default No), @ shows the ocis command for the "
    "last actions.\n\n"
    "Settings live in the contexts file ($XDG_CONFIG_HOME/ocis/config.toml): a table named "
    "tui sets the theme (theme = \"nord\"), and a table named tui.keys remaps keys by binding "
    "id (delete = \"x,delete\"); the help overlay shows each key's id.\n\n"
    "NO_COLOR=1 turns colours off."
)


def tui(
    ctx: typer.Context,
    context: Annotated[str | None, typer.Option(
        "--context", "-c", help="Use this saved context instead of the current one.")] = None,
    readonly: Annotated[bool, typer.Option(
        "--readonly", help="Browse and download only: no upload, rename, delete or restore.")
    ] = False,
) -> None:
    """Browse spaces and files interactively: transfers with progress, preview, trash."""
    from ocis_cli.contexts import ContextError, ContextStore, config_path
    from ocis_tui.settings import SettingsError, load_settings

    try:
        chosen = ContextStore().resolve(context or state_of(ctx).context_name)
        settings = load_settings(config_path(), readonly=readonly)
    except (ContextError, SettingsError) as exc:
        print_error(str(exc))
        raise typer.Exit(int(ExitCode.NOT_INITIALISED if isinstance(exc, ContextError)
                             else ExitCode.USAGE)) from None
    from ocis_tui.app import remote_for_context, run_tui

    try:
        open_remote = remote_for_context(chosen)
    except ContextError as exc:
        print_error(str(exc))
        raise typer.Exit(int(ExitCode.NOT_INITIALISED)) from None
    raise typer.Exit(run_tui(open_remote, settings))


def register(app: typer.Typer) -> None:
    app.command("tui", rich_help_panel="Spaces and files", epilog=EPILOG)(tui)
