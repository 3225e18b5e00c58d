"""`ocis settings get|set`: your own settings (language, auto-accept shares, notification options)
through the server's settings service, as ownCloud Web's account page changes them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ocis_cli.output import Col, Format, print_json, print_table
from ocis_cli.runner import open_client, run

from .account import PANEL
from .common import OutputOption, service_group


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ",".join(f"{k}={'on' if v else 'off'}" for k, v in value.items())
    return "-" if value is None else str(value)


def settings_get(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(
        help="A setting (auto-accept-shares, language, disable-email-notifications, "
             "email-sending-interval, event-share-created, ...); all when left out.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Show your settings and their values (DEFAULT yes: you never changed it).

    JSON: an array of {name, id, value, default, description}; with NAME one such object.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            items = [await client.settings.get(name)] if name else await client.settings.list()
        if output is Format.json:
            print_json(items[0].to_json() if name else [i.to_json() for i in items])
            return
        print_table([Col("NAME"), Col("VALUE", fold=True), Col("DEFAULT"),
                     Col("DESCRIPTION", wide=True)],
                    [[i.name, _shown(i.value), "yes" if i.is_default else "no", i.description]
                     for i in items], output=output)

    run(body)


def settings_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The setting, as `ocis settings get` names it.")],
    value: Annotated[str, typer.Argument(
        help="true|false, an option (`de`, `daily`), or KEY=on|off pairs (`mail=off,in-app=on`).")],
    output: OutputOption = Format.table,
) -> None:
    """Change one of your settings.

    auto-accept-shares false keeps the shares you receive pending until you accept them,
    whatever the server's default.

    JSON: {name, id, value, default, description} as saved.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            saved = await client.settings.set(name, value)
        if output is Format.json:
            print_json(saved.to_json())
            return
        print(f"{saved.name} = {_shown(saved.value)}")

    run(body)


def register(app: typer.Typer) -> None:
    """The verbs join `ocis settings` (which the runtime module made for `ocis settings server`)."""
    group = service_group(app, "settings", "Show and change your settings (language, auto-accept "
                          "shares, notifications); `ocis settings server` runs the settings "
                          "service alone.", PANEL)
    group.command("get", epilog=(
        "Examples:\n\n  ocis settings get\n  ocis settings get auto-accept-shares -o json"))(
        settings_get)
    group.command("set", epilog=(
        "Examples:\n\n  ocis settings set auto-accept-shares false\n"
        "  ocis settings set language de\n"
        "  ocis settings set event-share-created mail=off"))(settings_set)
