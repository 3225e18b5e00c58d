"""`ocis storage-users import`: copy a local folder tree into a space of a stopped server, through
the storage's bulk import (ocis_server.storage.bulkimport via ocis_server.runtime.maintenance)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from ocis_cli.commands.common import OutputOption, exit_with, registered_group
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import Format, err, human_size, print_json

_SKIPPED_SHOWN = 20


def import_folder(
    source: Annotated[Path, typer.Argument(help="The local folder whose content is imported.")],
    space: Annotated[str, typer.Option(
        "--space", "-s", help="The space: its id, its alias (personal/<user>) or a project "
                              "space's name.")],
    dest: Annotated[str, typer.Option(
        "--path", help="The folder of the space that receives the content (made if "
                       "missing).")] = "/",
    data_path: Annotated[Path | None, typer.Option(
        "--data-path", "-p", help="Data path (default: the server config's "
                                  "OCIS_BASE_DATA_PATH).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Import a local folder tree into a space, with the server stopped.

    Every file becomes a file of the space as an upload makes it (SHA1, MD5 and ADLER32
    checksums, its modification time kept, a new etag for every folder above it, so sync clients
    fetch it at their next poll); a file already at a path is replaced and its old content kept
    as a version. Files are committed 20,000 at a time, each batch flushed to disk once: an
    import of a million small files takes minutes. Symlinks, special files and names the
    server does not take are left out and listed. Refused while a server uses the data path
    (exit 5). Exit status: 0 imported; 7 imported with items left out; 3 no such space or
    folder; 8 quota exceeded.
    """
    from ocis_server.config import ConfigError
    from ocis_server.domain.errors import OcisError, QuotaExceeded
    from ocis_server.runtime.maintenance import MaintenanceRefused, import_tree

    def progress(stats: Any) -> None:
        if output is not Format.json:
            err(f"  {stats.files} files ({human_size(stats.bytes)}) in {stats.seconds:.0f} s")

    try:
        stats = asyncio.run(import_tree(source, space, dest, data_path, progress))
    except MaintenanceRefused as exc:
        raise exit_with(str(exc), ExitCode.TEMPORARY) from None
    except (LookupError, NotADirectoryError, FileNotFoundError) as exc:
        raise exit_with(str(exc).strip("'\""), ExitCode.NOT_FOUND) from None
    except ConfigError as exc:
        raise exit_with(exc.message, ExitCode.NOT_INITIALISED) from None
    except QuotaExceeded as exc:
        raise exit_with(exc.message, ExitCode.QUOTA) from None
    except OcisError as exc:
        raise exit_with(exc.message, ExitCode.FAILURE) from None
    except KeyboardInterrupt:
        raise exit_with("interrupted (the batches committed so far stay)",
                    ExitCode.INTERRUPTED) from None
    if output is Format.json:
        print_json(stats.as_dict())
    else:
        rate = stats.files / stats.seconds if stats.seconds else 0.0
        print(f"imported {stats.files} file(s) ({human_size(stats.bytes)}), {stats.folders} new "
              f"folder(s), {stats.replaced} replaced, in {stats.seconds:.1f} s ({rate:.0f} "
              f"files/s)")
        for line in stats.skipped[:_SKIPPED_SHOWN]:
            err(f"left out: {line}")
        if len(stats.skipped) > _SKIPPED_SHOWN:
            err(f"... and {len(stats.skipped) - _SKIPPED_SHOWN} more left out")
    if stats.skipped:
        raise typer.Exit(int(ExitCode.PARTIAL))



def register(app: typer.Typer) -> None:
    """Add `import` to the `storage-users` group that `runtime.register` created."""
    group = registered_group(app, "storage-users")
    group.command("import", epilog=(
        "Examples:\n\n  ocis storage-users import ./photos --space personal/einstein "
        "--path /Photos\n"
        "  ocis storage-users import /srv/old-share --space 'Project X' -o json"))(import_folder)
