"""`ocis versions ls|restore`: the earlier contents of a remote file (every overwrite keeps one)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ocis_cli.completion import complete_remote_path
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, human_size, iso_utc, print_json, print_table
from ocis_cli.remotepath import PATH_HELP, SpaceResolver, parse_remote
from ocis_cli.runner import open_client, run
from .common import OutputOption

if TYPE_CHECKING:
    from ocis_cli.client import Client

versions_app = typer.Typer(help="List and restore earlier versions of a file.",
                           no_args_is_help=True)
PathArg = Annotated[str, typer.Argument(help="Remote file.", autocompletion=complete_remote_path)]


async def _file_id(client: Client, path: str) -> str:
    rp = parse_remote(path)
    drive, rp = await SpaceResolver(client).locate(rp)
    res = await client.webdav.stat(drive.id, rp.path)
    if res.is_folder:
        raise CliError(f"{rp}: is a folder; only files have versions", ExitCode.USAGE)
    if not res.id:
        raise CliError(f"{rp}: the server did not report a file id")
    return res.id


def versions_ls(ctx: typer.Context, path: PathArg, output: OutputOption = Format.table) -> None:
    """List the versions of a file, newest first (the current content is not one of them).

    JSON: an array of {key, size, mtime (ISO 8601 UTC), etag, checksums}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            versions = await client.versions.list(await _file_id(client, path))
        if output is Format.json:
            print_json([v.to_json() for v in versions])
            return
        print_table([Col("VERSION"), Col("SIZE"), Col("MODIFIED"), Col("ETAG", wide=True)],
                    [[v.key, human_size(v.size), iso_utc(v.mtime), v.etag] for v in versions],
                    output=output)

    run(body)


def versions_restore(
    ctx: typer.Context,
    path: PathArg,
    version: Annotated[str, typer.Argument(help="Version key (see `ocis versions ls PATH`).")],
) -> None:
    """Make a version the current content; the current content becomes a version in turn."""

    async def body() -> None:
        async with open_client(ctx) as client:
            await client.versions.restore(await _file_id(client, path), version)
        print(f"restored version {version} of {path}", file=sys.stderr)

    run(body)


def register(app: typer.Typer) -> None:
    versions_app.command("ls", epilog=(
        "Examples:\n\n  ocis versions ls /docs/report.pdf\n  ocis versions ls Physics:/data.csv "
        "-o json\n\n" + PATH_HELP))(versions_ls)
    versions_app.command("restore", epilog=(
        "Examples:\n\n  ocis versions restore /docs/report.pdf 12\n\n" + PATH_HELP))(versions_restore)
    app.add_typer(versions_app, name="versions", rich_help_panel="Spaces and files")
