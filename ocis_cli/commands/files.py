"""File commands over WebDAV: `ocis ls|stat|mkdir|rm|mv|cp`. Remote path syntax: remotepath.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from ocis_cli.completion import complete_remote_path
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, human_size, iso_utc, print_json, print_table
from ocis_cli.remotepath import (
    PATH_HELP,
    RemotePath,
    SpaceResolver,
    parse_remote,
    wants_folder,
)
from ocis_cli.runner import open_client, run
from .common import OutputOption

if TYPE_CHECKING:
    from ocis_cli.client import Client, Drive, Resource

PANEL = "Spaces and files"


async def locate(client: Client, resolver: SpaceResolver, text: str) -> tuple[Drive, RemotePath]:
    return await resolver.locate(parse_remote(text))


def ls(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Remote folder or file.", autocompletion=complete_remote_path)] = "/",
    long: Annotated[bool, typer.Option("--long", "-l", help="Show permissions, size, mtime.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """List a remote folder (PROPFIND depth 1).

    JSON: an array of {name, type (file|folder), size, mtime (ISO 8601 UTC), etag, id, permissions}.
    """

    async def body() -> None:
        async with open_client(ctx) as client:
            drive, rp = await locate(client, SpaceResolver(client), path)
            found = await client.webdav.propfind(drive.id, rp.path, depth=1)
        entries = _children(found, rp.path)
        if output is Format.json:
            print_json([r.to_json() for r in entries])
        elif long:
            print_table([Col("PERMISSIONS"), Col("SIZE"), Col("MODIFIED"), Col("NAME", fold=True),
                         Col("ID", wide=True)],
                        [[r.permissions, human_size(r.size), iso_utc(r.mtime), _display(r), r.id]
                         for r in entries], output=output)
        else:
            print_table([Col("NAME", fold=True), Col("ID", wide=True)],
                        [[_display(r), r.id] for r in entries], output=output)

    run(body)


def _children(found: list[Resource], path: str) -> list[Resource]:
    """The entries to list: a folder's children, or the file itself."""
    me = next((r for r in found if r.path == path), found[0] if found else None)
    if me is None:
        return []
    if not me.is_folder:
        return [me]
    return sorted((r for r in found if r is not me), key=lambda r: r.name)


def _display(r: Resource) -> str:
    return r.name + "/" if r.is_folder else r.name


def stat(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Remote file or folder.", autocompletion=complete_remote_path)],
    output: OutputOption = Format.table,
) -> None:
    """Show one remote file or folder: type, size, mtime, etag, id, permissions, checksums."""

    async def body() -> None:
        async with open_client(ctx) as client:
            drive, rp = await locate(client, SpaceResolver(client), path)
            res = await client.webdav.stat(drive.id, rp.path)
        info = res.to_json()
        info.update({"path": str(rp), "space": drive.name, "space_id": drive.id,
                     "checksums": res.checksums})
        if output is Format.json:
            print_json(info)
            return
        for key in ("path", "type", "size", "mtime", "etag", "id", "permissions", "checksums",
                    "space", "space_id"):
            print(f"{key + ':':13}{'' if info[key] is None else info[key]}")

    run(body)


def mkdir(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Remote folder to create.", autocompletion=complete_remote_path)],
    parents: Annotated[bool, typer.Option(
        "--parents", "-p", help="Create missing parents; no error if it exists.")] = False,
) -> None:
    """Create a remote folder (MKCOL)."""

    async def body() -> None:
        from ocis_cli.client import Conflict

        async with open_client(ctx) as client:
            drive, rp = await locate(client, SpaceResolver(client), path)
            if rp.path == "/":
                if parents:
                    return
                raise CliError(f"{rp}: the space root already exists")
            if parents:
                await _mkdir_parents(client, drive.id, rp)
                return
            try:
                await client.webdav.mkcol(drive.id, rp.path)
            except Conflict as exc:
                if exc.status == 409:
                    raise CliError(f"{rp}: parent folder does not exist (use -p)",
                                   ExitCode.NOT_FOUND) from None
                raise CliError(f"{rp}: already exists") from None

    run(body)


async def _mkdir_parents(client: Client, space_id: str, rp: RemotePath) -> None:
    current = ""
    for segment in rp.path.strip("/").split("/"):
        current += "/" + segment
        existing = await client.webdav.exists(space_id, current)
        if existing is None:
            await client.webdav.mkcol(space_id, current)
        elif not existing.is_folder:
            raise CliError(f"{RemotePath(rp.space, current)}: exists and is not a folder")


def rm(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Remote file or folder.", autocompletion=complete_remote_path)],
    recursive: Annotated[bool, typer.Option(
        "--recursive", "-r", help="Remove a folder and everything in it.")] = False,
) -> None:
    """Delete a remote file, or a folder with -r (it goes to the space's trash bin)."""

    async def body() -> None:
        async with open_client(ctx) as client:
            drive, rp = await locate(client, SpaceResolver(client), path)
            if rp.path == "/" and drive.is_share:
                raise CliError(f"{rp}: a share made with you is not deleted but declined: "
                               "`ocis share ls --with-me` lists its id for `ocis share decline`",
                               ExitCode.USAGE)
            if rp.path == "/":
                raise CliError(f"{rp}: refusing to remove the root of a space", ExitCode.USAGE)
            res = await client.webdav.stat(drive.id, rp.path)
            if res.is_folder and not recursive:
                raise CliError(f"{rp}: is a folder (use -r to remove it)")
            await client.webdav.delete(drive.id, rp.path)

    run(body)


def _relocate(ctx: typer.Context, src: str, dst: str, method: str) -> None:
    async def body() -> None:
        async with open_client(ctx) as client:
            resolver = SpaceResolver(client)
            src_drive, src_rp = await locate(client, resolver, src)
            dst_drive, dst_rp = await locate(client, resolver, dst)
            if src_rp.path == "/":
                raise CliError(f"{src_rp}: cannot {method.lower()} the root of a space",
                               ExitCode.USAGE)
            target = await client.webdav.exists(dst_drive.id, dst_rp.path)
            if wants_folder(dst) or (target is not None and target.is_folder):
                if target is None:
                    raise CliError(f"{dst_rp}: no such folder", ExitCode.NOT_FOUND)
                dst_rp = dst_rp.child(src_rp.name)
            op = client.webdav.move if method == "MOVE" else client.webdav.copy
            await op(src_drive.id, src_rp.path, dst_drive.id, dst_rp.path, overwrite=True)

    run(body)


def mv(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="Remote source.", autocompletion=complete_remote_path)],
    dst: Annotated[str, typer.Argument(
        help="Remote destination (a folder: move into it).", autocompletion=complete_remote_path)],
) -> None:
    """Move or rename a remote file or folder (WebDAV MOVE); an existing file at DST is replaced."""
    _relocate(ctx, src, dst, "MOVE")


def cp(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="Remote source.", autocompletion=complete_remote_path)],
    dst: Annotated[str, typer.Argument(
        help="Remote destination (a folder: copy into it).", autocompletion=complete_remote_path)],
) -> None:
    """Copy a remote file or folder on the server (WebDAV COPY); an existing file at DST is replaced."""
    _relocate(ctx, src, dst, "COPY")


def register(app: typer.Typer) -> None:
    def add(name: str, fn: Callable[..., None], examples: list[str]) -> None:
        epilog = "Examples:\n\n" + "\n".join(f"  {e}" for e in examples) + "\n\n" + PATH_HELP
        app.command(name, rich_help_panel=PANEL, epilog=epilog)(fn)

    add("ls", ls, ["ocis ls /docs", "ocis ls -l Physics:/data", "ocis ls /docs -o json"])
    add("stat", stat, ["ocis stat /docs/a.txt", "ocis stat Physics:/results.pdf -o json"])
    add("mkdir", mkdir, ["ocis mkdir /docs", "ocis mkdir -p Physics:/data/2026/run1"])
    add("rm", rm, ["ocis rm /docs/old.txt", "ocis rm -r /docs/tmp"])
    add("mv", mv, ["ocis mv /docs/a.txt /docs/b.txt", "ocis mv /docs/a.txt /archive/"])
    add("cp", cp, ["ocis cp /docs/a.txt /docs/a-copy.txt",
                   "ocis cp /docs/report.pdf Physics:/reports/"])
