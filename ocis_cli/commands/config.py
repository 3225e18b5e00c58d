"""`ocis config show`: every server setting of the schema, its effective value (secrets masked) and,
with --origin, where it came from. Offline: reads ocis.toml and the environment, like `ocis server`."""

from __future__ import annotations

from typing import Annotated

import typer

from ocis_cli.commands.common import OutputOption
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import Col, Format, err, print_error, print_json, print_table

PANEL = "Runtime (server side)"
config_app = typer.Typer(help="The server configuration (ocis.toml and environment variables).",
                         no_args_is_help=True)


def show(
    origin: Annotated[bool, typer.Option(
        "--origin", help="Add where each value came from: default, the ocis.toml file, or the "
                         "environment variable that set it.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """Show every server setting with its effective value; secrets are masked as ***.

    Values are resolved as `ocis server` resolves them: the default, then $OCIS_CONFIG_DIR/ocis.toml,
    then environment variables. Columns: KEY (the dotted key in ocis.toml), ENV (the variables that
    set it, first one wins), VALUE, and with --origin ORIGIN. docs/configuration.md describes each.
    """
    from ocis_server.config import ConfigError, load_config
    from ocis_server.config.show import settings, text

    try:
        config = load_config()
    except ConfigError as exc:
        print_error(exc.message)
        raise typer.Exit(int(ExitCode.FAILURE)) from None
    rows = settings(config, with_origin=origin)
    if output is Format.json:
        print_json(rows)
    else:
        columns = [Col("KEY", fold=True), Col("ENV", fold=True), Col("VALUE", fold=True),
                   *([Col("ORIGIN", fold=True)] if origin else [])]
        print_table(columns, [[row["key"], ", ".join(row["env"]), text(row["value"]),
                               *([_origin_text(row["origin"])] if origin else [])] for row in rows],
                    output=output)
    if not config.initialized:
        err(f"note: {config.config_file} does not exist (`ocis init` writes it): "
            "defaults and environment only")


def _origin_text(origin: dict[str, str]) -> str:
    """As the loader's Origin prints it: `default`, `file (/path/ocis.toml)`, `env (PROXY_HTTP_ADDR)`."""
    return f"{origin['kind']} ({origin['source']})" if origin["source"] else origin["kind"]


def register(app: typer.Typer) -> None:
    config_app.command("show", epilog=(
        "Examples:\n\n  ocis config show\n  ocis config show --origin\n"
        "  PROXY_HTTP_ADDR=0.0.0.0:9200 ocis config show --origin -o json"))(show)
    app.add_typer(config_app, name="config", rich_help_panel=PANEL)
