"""The `ocis` typer app: global options and the registration of every command module.

Kept cheap to import (no aiohttp, no server modules beyond the service table) so `--help` and tab
completion stay fast.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ocis_cli.commands import (
    account,
    authapp,
    backup,
    config,
    files,
    find,
    groups,
    invites,
    links,
    meta,
    remotes,
    runtime,
    settings,
    shares,
    spaceadmin,
    spaces,
    storageimport,
    transfer,
    trash,
    tui,
    uploads,
    users,
    versions,
    watch,
)
from ocis_cli.completion import complete_context
from ocis_cli.runner import AppState

app = typer.Typer(
    name="ocis",
    # One way to install completions: `ocis completion SHELL` (not typer's --install-completion).
    add_completion=False,
    help="ownCloud Infinite Scale in Python: run the server, and work with its spaces and files.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=("Examples:\n\n  ocis init --insecure true --admin-password admin && ocis server\n"
            "  OCIS_PASSWORD=admin ocis login http://127.0.0.1:9200 --user admin "
            "--password-from-env\n  ocis spaces ls\n  ocis put ./a.txt /docs/\n\n"
            "Exit codes: `ocis help exit-codes`. Environment: `ocis help environment`."),
)


@app.callback()
def _root(
    ctx: typer.Context,
    context: Annotated[str | None, typer.Option(
        "--context", "-c", envvar="OCIS_CONTEXT",
        help="Use this saved context instead of the current one (see `ocis context ls`).",
        autocompletion=complete_context)] = None,
) -> None:
    """ownCloud Infinite Scale in Python: run the server, and work with its spaces and files."""
    ctx.obj = AppState(context_name=context)


for _module in (runtime, config, account, spaces, spaceadmin, remotes, files, find, transfer, meta, backup,
                uploads, storageimport, trash, versions, shares, invites, links, tui, users, groups, authapp,
                settings, watch):
    _module.register(app)


def _flags_without_metavar() -> None:
    """typer's rich help shows `<bool>` after every flag, as if it took a value: a flag shows
    none (typer is pinned <0.30; tests/test_cli_docs.py checks every help page)."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich     # type: ignore[method-assign,assignment]


_flags_without_metavar()


def main() -> None:
    """Console script entry point (`ocis`, `ocis-py`, `python -m ocis_cli`)."""
    if "_OCIS_COMPLETE" in os.environ:       # a shell asks for completions (`ocis completion`)
        from typer._completion_classes import completion_init

        completion_init()
    app(prog_name="ocis")
