"""`ocis put` and `ocis get`: streamed transfers, SHA1-checked, with a progress bar on stderr (TTY)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ocis_cli.completion import complete_remote_path
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, err, human_size, is_tty
from ocis_cli.remotepath import PATH_HELP, SpaceResolver, parse_remote, wants_folder
from ocis_cli.runner import current_context, open_client, run

PANEL = "Spaces and files"


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; None (no output) otherwise."""
    if not is_tty(sys.stderr):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def put(
    ctx: typer.Context,
    local: Annotated[Path, typer.Argument(help="Local file to upload.")],
    remote: Annotated[str, typer.Argument(
        help="Remote file, or a folder (ending in / or existing).", autocompletion=complete_remote_path)],
    no_resume: Annotated[bool, typer.Option(
        "--no-resume", help="Start over instead of resuming an interrupted upload.")] = False,
    chunk_size: Annotated[int | None, typer.Option(
        "--chunk-size", envvar="OCIS_TUS_CHUNK_SIZE", hidden=True,
        help="TUS PATCH size in bytes (capped by the server's max_chunk_size).")] = None,
) -> None:
    """Upload a local file with its SHA1 and mtime.

    Over TUS when the server supports it: resumable, so after Ctrl-C (exit 130) the same command
    continues from the server's offset; the server's SHA1 of the result is checked. Otherwise one
    streamed PUT whose SHA1 the server verifies.
    """

    async def body() -> None:
        if not local.exists():
            raise CliError(f"{local}: no such local file", ExitCode.NOT_FOUND)
        if not local.is_file():
            raise CliError(f"{local}: not a regular file (folders are not uploaded)")
        async with open_client(ctx) as client:
            rp = parse_remote(remote)
            drive, rp = await SpaceResolver(client).locate(rp)
            existing = await client.webdav.exists(drive.id, rp.path)
            file_root = drive.is_file_share and rp.path == "/"       # a file share's root is a file
            if not file_root and (wants_folder(remote) or rp.path == "/"
                                  or (existing and existing.is_folder)):
                if existing is None and rp.path != "/":
                    raise CliError(f"{rp}: no such folder", ExitCode.NOT_FOUND)
                rp = rp.child(local.name)
            from ocis_cli.client import Conflict
            from ocis_cli.client.webdav import sha1_of_file

            size = local.stat().st_size
            try:
                # A file share's root is the file: TUS creates uploads in a folder, so PUT it.
                if (not file_root and not drive.is_remote_link
                        and await client.tus.support() is not None):
                    from ocis_cli.commands.resumable import put_over_tus

                    await put_over_tus(client, current_context(ctx), drive, rp, local,
                                       fresh=no_resume, chunk_size=chunk_size,
                                       progress_bar=progress_bar)
                else:
                    sha1 = await asyncio.to_thread(sha1_of_file, local)
                    with progress_bar(size, local.name) as advance:
                        await client.webdav.upload(drive.id, rp.path, local, sha1=sha1,
                                                   mtime=int(local.stat().st_mtime),
                                                   progress=advance)
            except Conflict as exc:
                if exc.status not in (409, 412) or await client.webdav.exists(drive.id, rp.parent):
                    raise
                raise CliError(f"{rp}: the parent folder does not exist",
                               ExitCode.NOT_FOUND) from None
        err(f"uploaded {local} ({human_size(size)}) to {rp}")

    run(body)


def get(
    ctx: typer.Context,
    remote: Annotated[str, typer.Argument(help="Remote file.", autocompletion=complete_remote_path)],
    local: Annotated[str | None, typer.Argument(
        help="Local file or folder (default: the current folder); - writes to stdout.")] = None,
) -> None:
    """Download a remote file, checked against the server's SHA1.

    The file is streamed to a temporary file next to the target and renamed into place only when
    complete and verified; with - as LOCAL it goes to stdout.
    """

    async def body() -> None:
        from ocis_cli.client.webdav import verify_download

        async with open_client(ctx) as client:
            rp = parse_remote(remote)
            drive, rp = await SpaceResolver(client).locate(rp)
            res = await client.webdav.stat(drive.id, rp.path)
            if res.is_folder:
                raise CliError(f"{rp}: is a folder (only files can be downloaded)")
            if local == "-":
                result = await client.webdav.download(drive.id, rp.path, sys.stdout.buffer)
                sys.stdout.buffer.flush()
                verify_download(result, str(rp))
                return
            target = _target(local, res.name)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                            dir=target.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as fh, progress_bar(res.size, res.name) as advance:
                    result = await client.webdav.download(drive.id, rp.path, fh, progress=advance)
                verify_download(result, str(rp))
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        if result.last_modified is not None:
            stamp = result.last_modified.timestamp()
            os.utime(target, (stamp, stamp))
        err(f"downloaded {rp} ({human_size(result.size)}) to {target}")

    run(body)


def _target(local: str | None, name: str) -> Path:
    if local is None:
        return Path.cwd() / name
    path = Path(local)
    if path.is_dir():
        return path / name
    if not path.parent.is_dir():
        raise CliError(f"{path.parent}: no such local folder", ExitCode.NOT_FOUND)
    return path


def register(app: typer.Typer) -> None:
    app.command("put", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis put ./report.pdf /docs/\n  ocis put data.csv Physics:/runs/data.csv\n\n"
        + PATH_HELP))(put)
    app.command("get", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis get /docs/report.pdf\n  ocis get Physics:/runs/data.csv ./local.csv\n"
        "  ocis get /docs/a.txt - | less\n\n" + PATH_HELP))(get)
