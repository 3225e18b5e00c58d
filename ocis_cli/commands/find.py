"""`ocis find PATTERN`: names matching a pattern across a space, answered by the server's search
(WebDAV REPORT oc:search-files, an index lookup; not a walk of the tree from the client)."""

from __future__ import annotations

from typing import Annotated

import typer

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, human_size, print_json, print_table
from ocis_cli.remotepath import RemotePath, SpaceResolver
from ocis_cli.runner import open_client, run
from .common import OutputOption

PANEL = "Spaces and files"


def find(
    ctx: typer.Context,
    pattern: Annotated[str, typer.Argument(
        help="Part of a name (case-insensitive), or a whole-name pattern with * and ?.")],
    space: Annotated[str | None, typer.Option(
        "--space", "-s", help="Search this space (name or id; default: your personal space).")] = None,
    under: Annotated[str, typer.Option(
        "--in", help="Search only below this folder of the space.")] = "/",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                       help="Show at most this many matches.")] = 100,
    output: OutputOption = Format.table,
) -> None:
    """Find files and folders by name across a space (server-side search, ordered by path).

    JSON: {total, matches: [{path, name, type (file|folder), size, mtime, etag, id, permissions}]}.
    """

    async def body() -> None:
        if not pattern.strip():
            raise CliError("the pattern must not be empty", ExitCode.USAGE)
        async with open_client(ctx) as client:
            resolver = SpaceResolver(client)
            drive, rp = await resolver.locate(RemotePath(space, "/" + under.strip("/")))
            found, total = await client.webdav.search(drive.id, rp.path, pattern, limit=limit)
        if output is Format.json:
            print_json({"total": total,
                        "matches": [{"path": r.path, **r.to_json()} for r in found]})
            return
        print_table([Col("PATH", fold=True), Col("SIZE"), Col("ID", wide=True)],
                    [[r.path + ("/" if r.is_folder else ""), human_size(r.size), r.id]
                     for r in found], output=output)
        if total > len(found):
            typer.echo(f"{len(found)} of {total} matches shown (raise --limit for more)", err=True)

    run(body)


def register(app: typer.Typer) -> None:
    app.command("find", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis find report\n  ocis find '*.pdf' --space Physics\n"
        "  ocis find draft --in /docs -o json"))(find)
