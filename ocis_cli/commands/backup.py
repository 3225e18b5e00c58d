"""`ocis backup consistency`: check (and repair) a stopped server's data path, metadata against
blobs, through ocis_server.runtime.maintenance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ocis_cli.commands.common import OutputOption
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import Col, Format, err, print_error, print_json, print_table

PANEL = "Runtime (server side)"

backup_app = typer.Typer(
    name="backup", no_args_is_help=True,
    help="Backup helpers for the server's data path (run on the server machine).")

_DOC = """Check a data path's metadata against its blobs; exit 1 on any problem.

Meant for a stopped server; with one running, recent uploads are skipped and no --repair.

"""
_CHECKS = """\
Checks (one row per problem: KIND, SUBJECT, DETAIL, REPAIRABLE):

\b
  missing_blob   a node, version or trash entry names a blob not on disk
  blob_size      a file's blob size differs from its metadata
  checksum       (--checksums) a blob does not hash to its stored SHA1
  orphan_blob    a blob on disk that nothing references (crash leftover)
  temp_file      leftover temp or partial upload data nothing will commit
  tree_size      a folder's tree size is not the sum of its children
  etag           an etag not derived from the node's change stamp, or a
                 folder whose tree mtime is older than a change below it
  dangling_node  a node whose parent is missing, a file, or another space
  dangling_row   a version, props or trash row naming a missing node
  stale_session  an upload session past its expiry
  damaged_database  (--full) SQLite's integrity check failed on a database
                 file: restore it from a backup, or rebuild it with
                 `sqlite3 FILE .recover | sqlite3 FILE.recovered`

--repair is refused while a server runs (the runtime answers on
OCIS_RUNTIME_PORT, or the metadata database is open). It recomputes tree
sizes and gives the folders above new etags, drops dangling rows and
expired upload sessions, removes temp files and moves orphan blobs to
<storage root>/lost+found/ (never deletes them), then checks again.
missing_blob, blob_size, checksum and dangling_node need a restore from
backup and are only reported.

Exit status: 0 consistent; 1 problems (after --repair: problems left);
3 no data path; 5 refused because a server is running."""


def consistency(
    basepath: Annotated[Path | None, typer.Option(
        "--basepath", "-p",
        help="Data path to check (default: the server's storage folder, "
             "STORAGE_USERS_OCIS_ROOT or OCIS_BASE_DATA_PATH's storage/users, from "
             "OCIS_CONFIG_DIR). A folder holding metadata.db is taken as the storage root.")
    ] = None,
    do_repair: Annotated[bool, typer.Option(
        "--repair", help="Fix what can be fixed without losing data, then check again.")] = False,
    checksums: Annotated[bool, typer.Option(
        "--checksums", help="Also hash every file's blob and compare its SHA1 (reads all data).")
    ] = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Also run SQLite's full integrity check on every database of the data "
                       "path (metadata.db, idm, idp); the server runs only a quick, time-bounded "
                       "check at start.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """(Help text: _DOC and _CHECKS, set in register().)"""
    from ocis_server.config import ConfigError
    from ocis_server.runtime.maintenance import MaintenanceRefused
    from ocis_server.runtime.maintenance import consistency as run_check

    try:
        first, after = run_check(basepath, do_repair=do_repair, checksums=checksums, full=full)
    except MaintenanceRefused as exc:
        print_error(str(exc))
        raise typer.Exit(int(ExitCode.TEMPORARY)) from None
    except FileNotFoundError as exc:
        print_error(str(exc))
        raise typer.Exit(int(ExitCode.NOT_FOUND)) from None
    except ConfigError as exc:
        print_error(exc.message)
        raise typer.Exit(int(ExitCode.NOT_INITIALISED)) from None
    final = after if after is not None else first
    if output is Format.json:
        doc: dict[str, Any] = first.as_dict()
        if after is not None:
            doc["after_repair"] = after.as_dict()
        print_json(doc)
    else:
        _print_report(first, title="")
        if after is not None:
            for line in first.repaired:
                err(f"repaired: {line}")
            _print_report(after, title="after repair: ")
    raise typer.Exit(int(ExitCode.OK if final.ok else ExitCode.FAILURE))


def _print_report(report: Any, title: str) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    live = " (server running: recent uploads skipped)" if report.live else ""
    if report.ok:
        err(f"{title}{report.root}: consistent{live} ({counts})")
        return
    err(f"{title}{report.root}: {len(report.findings)} problem(s){live} ({counts})")
    print_table([Col("KIND"), Col("SUBJECT", fold=True), Col("DETAIL", fold=True),
                 Col("REPAIRABLE")],
                [[f.kind, f.subject, f.detail, "yes" if f.repairable else "no"]
                 for f in report.findings])


def register(app: typer.Typer) -> None:
    consistency.__doc__ = _DOC + _CHECKS
    backup_app.command("consistency", epilog=(
        "Examples:\n\n  ocis backup consistency\n"
        "  ocis backup consistency -p /var/lib/ocis -o json\n"
        "  ocis backup consistency --repair\n"
        "  ocis backup consistency --full"))(consistency)
    app.add_typer(backup_app, name="backup", rich_help_panel=PANEL)
