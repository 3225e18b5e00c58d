"""`ocis storage-users uploads sessions`: list and clean the storage's resumable upload sessions.

An operator command like oCIS's (`services/storage-users/pkg/command/uploads.go`): it works on the
server's data directly, found through the server's config (OCIS_CONFIG_DIR, OCIS_BASE_DATA_PATH).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.commands.common import exit_with, registered_group
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import Col, Format, human_size, print_json, print_table

if TYPE_CHECKING:
    from ocis_server.runtime.maintenance import UploadSession

_COLUMNS = (Col("PATH", fold=True), Col("SIZE"), Col("RECEIVED"), Col("CREATED"), Col("EXPIRES"),
            Col("ID", wide=True), Col("SPACE", wide=True), Col("USER", wide=True))


def _stamp(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_json(session: UploadSession) -> dict[str, Any]:
    """The JSON shape of one session in `--json` output."""
    return {
        "id": session.id,
        "kind": session.kind,
        "space": session.space_id or None,
        "path": "/" + "/".join(session.path) if session.path else None,
        "size": session.size if session.size >= 0 else None,
        "offset": session.offset,
        "user": session.user_id,
        "created": _stamp(session.created),
        "expires": _stamp(session.expires),
        "expired": session.expired,
    }


def _print_sessions(sessions: list[UploadSession], output: Format) -> None:
    rows = []
    for item in map(session_json, sessions):
        rows.append([item["path"] or "-", human_size(item["size"]), human_size(item["offset"]),
                     item["created"], item["expires"], item["id"], item["space"] or "-",
                     item["user"]])
    print_table(_COLUMNS, rows, output=output)


def sessions(
    expired: Annotated[bool, typer.Option(
        "--expired", help="Only sessions whose expiry has passed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    output: Annotated[Format, typer.Option(
        "--output", "-o", help="table, wide (adds ids, spaces and users) or json")] = Format.table,
    clean: Annotated[bool, typer.Option(
        "--clean", help="Remove the listed sessions and their partial data; report the space "
                        "freed.")] = False,
    data_path: Annotated[Path | None, typer.Option(
        "--data-path", "-p", help="Data path (default: the server config's "
                                  "OCIS_BASE_DATA_PATH).")] = None,
) -> None:
    """List the upload sessions (TUS and chunked uploads not yet finished) of the users' storage.

    Reads the server's data path directly, with the same config resolution as `ocis server`; it
    works with the server stopped. Columns: path, size, bytes received, created, expires; `-o wide`
    adds the session id, the space and the user.
    """
    from ocis_server.config import ConfigError
    from ocis_server.runtime import maintenance

    try:
        if clean:
            listed, removed, freed = asyncio.run(
                maintenance.clean_upload_sessions(data_path, expired_only=expired))
        else:
            listed = asyncio.run(maintenance.upload_sessions(data_path, expired=expired or None))
    except ConfigError as exc:
        raise exit_with(exc.message, ExitCode.NOT_INITIALISED) from None
    except KeyboardInterrupt:
        raise exit_with("interrupted", ExitCode.INTERRUPTED) from None
    except Exception as exc:                      # noqa: BLE001 - any storage failure, one line
        raise exit_with(f"cannot read the upload sessions: {exc}", ExitCode.FAILURE) from None
    if as_json or output is Format.json:
        doc: Any = [session_json(s) for s in listed]
        if clean:
            doc = {"sessions": doc, "removed": removed, "freed": freed}
        print_json(doc)
        return
    _print_sessions(listed, output)
    if clean:
        print(f"removed {removed} upload session(s), freed {human_size(freed)} ({freed} bytes)")



def register(app: typer.Typer) -> None:
    """Add `uploads sessions` to the `storage-users` group that `runtime.register` created."""
    group = registered_group(app, "storage-users")
    uploads = typer.Typer(help="Upload sessions of the users' storage (resumable uploads).",
                          no_args_is_help=True)
    uploads.command("sessions", epilog=(
        "Examples:\n\n  ocis storage-users uploads sessions\n"
        "  ocis storage-users uploads sessions --expired --clean\n"
        "  OCIS_CONFIG_DIR=/etc/ocis ocis storage-users uploads sessions --json"))(sessions)
    group.add_typer(uploads, name="uploads")
