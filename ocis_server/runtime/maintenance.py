"""Offline maintenance of a data path (`ocis backup consistency`, `ocis storage-users uploads
sessions`): resolves the storage root like the server does and runs the consistency check (and
repair) with the server's database lock rules, or lists and cleans upload sessions.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from ocis_server.config import ConfigError, load_config
from ocis_server.storage.api import UploadSession
from ocis_server.storage.consistency import (
    DB_NAME,
    Report,
    StorageBusy,
    check,
    open_db,
    repair,
)
from ocis_server.storage.database import integrity_problems

_REPAIR_PASSES = 3

__all__ = ["MaintenanceRefused", "Report", "UploadSession", "clean_upload_sessions", "consistency",
           "storage_root", "upload_sessions"]


class MaintenanceRefused(Exception):
    """Repair was refused: a server is running on the data path (or on the configured runtime)."""


def storage_root(data_path: Path | None) -> Path:
    """The users' storage root: without `data_path`, the server config's (STORAGE_USERS_OCIS_ROOT,
    by default `<OCIS_BASE_DATA_PATH>/storage/users`); a given data path's `storage/users`, or the
    path itself when it holds metadata.db (a storage root)."""
    if data_path is None:
        return load_config().users_root
    data_path = Path(data_path).expanduser()
    if (data_path / DB_NAME).is_file():
        return data_path
    return data_path / "storage" / "users"


def _is_configured(root: Path) -> bool:
    """Is `root` the data path of the configured server?"""
    try:
        return storage_root(None).resolve() == root.resolve()
    except (ConfigError, OSError):
        return False


def _runtime_answers(timeout: float = 0.5) -> bool:
    """True when something listens on the configured runtime control port."""
    try:
        config = load_config()
    except ConfigError:
        return False
    if not config.runtime_port:
        return False
    try:
        with socket.create_connection((config.runtime_host, int(config.runtime_port)), timeout):
            return True
    except OSError:
        return False


def _damaged_databases(root: Path, report: Report) -> bool:
    """The full integrity check of metadata.db and, in the standard layout, of the other
    SQLite files of the data path (idm, idp); findings added to `report`. True when metadata.db
    itself is damaged (the other checks cannot read it then)."""
    files = [root / DB_NAME]
    if root.parent.name == "storage":
        base = root.parent.parent
        files += sorted(p for sub in ("idm", "idp") for p in (base / sub).glob("*.db"))
    damaged = False
    for db in files:
        if not db.is_file():
            continue
        problems = integrity_problems(db)
        for problem in problems[:5]:
            report.add("damaged_database", str(db), problem, False)
        damaged = damaged or (bool(problems) and db == files[0])
    report.counts["databases"] = len([f for f in files if f.is_file()])
    return damaged


def consistency(data_path: Path | None = None, *, do_repair: bool = False,
                checksums: bool = False, full: bool = False) -> tuple[Report, Report | None]:
    """Check (and with `do_repair` repair, then re-check) a storage root.

    Returns (first report, re-check report or None). Without a running server the database is
    locked exclusively for the whole run, so a server cannot start half-way. With one running the
    check reads a snapshot and skips recent temp files and blobs (uploads in flight); a repair is
    refused (MaintenanceRefused) when the runtime answers on OCIS_RUNTIME_PORT (for the configured
    data path, however named) or when the database's exclusive lock cannot be taken."""
    root = storage_root(data_path)
    if full:
        report = Report(root=root)
        if _damaged_databases(root, report):
            return report, None
    if do_repair and _is_configured(root) and _runtime_answers():
        raise MaintenanceRefused("the server's runtime answers on OCIS_RUNTIME_PORT: stop the "
                                 "server before --repair")
    try:
        conn = open_db(root, exclusive=True)
        live = False
    except StorageBusy:
        if do_repair:
            raise MaintenanceRefused("the metadata database is in use by another process (a "
                                     "running server?): stop it before --repair") from None
        conn, live = open_db(root, exclusive=False), True
    try:
        first = check(conn, root, live=live, checksums=checksums)
        if full:
            first.findings[:0] = report.findings
            first.counts.update(report.counts)
        if not do_repair or first.ok:
            return first, None
        lines: list[str] = []
        target = first
        for _ in range(_REPAIR_PASSES):   # a dropped row can leave rows naming it: go again
            repair(conn, root, target)
            lines.extend(line for line in target.repaired if line not in lines)
            after = check(conn, root, checksums=checksums)
            left = {(f.kind, f.subject) for f in after.findings if f.repairable}
            if not left or left & {(f.kind, f.subject) for f in target.findings}:
                break   # nothing left to do, or a repair did not hold: no point going round
            target = after
        first.repaired[:] = lines
        return first, after
    finally:
        conn.close()


# --- upload sessions (`ocis storage-users uploads sessions`) -----------------------------------

async def _open_storage(data_path: Path | None) -> Any | None:
    """The users' storage provider at the configured (or given) data path; None when it has no
    database yet (a server that never started has no upload sessions)."""
    from ocis_server.services import by_name

    config = load_config()
    if data_path is None:
        config.require_initialized()        # ConfigError: `ocis init` was not run
    root = storage_root(data_path)
    if not (root / DB_NAME).is_file():
        return None
    return await by_name()["storage-users"].resolve("driver").open(root, config.storage_id)


async def _open_storages(data_path: Path | None) -> list[Any]:
    """The configured server's providers: the users' one and, with STORAGE_USERS_EXTRA_MOUNT_IDS,
    each extra embedded one that has a database (docs/scaling.md); only the one at `data_path`
    when given."""
    from ocis_server.services import by_name

    from .providers import extra_root

    primary = await _open_storage(data_path)
    storages = [] if primary is None else [primary]
    if data_path is None:
        config = load_config()
        for mount in config.storage_extra_mount_ids:
            root = extra_root(Path(config.base_data_path), mount)
            if (root / DB_NAME).is_file():
                storages.append(await by_name()["storage-users"].resolve("driver").open(root, mount))
    return storages


async def upload_sessions(data_path: Path | None = None, *,
                          expired: bool | None = None) -> list[UploadSession]:
    """The upload sessions of the storage (only the expired ones with `expired=True`)."""
    sessions: list[UploadSession] = []
    for storage in await _open_storages(data_path):
        try:
            sessions += await storage.list_uploads(expired=expired)
        finally:
            await storage.close()
    return sessions


async def clean_upload_sessions(data_path: Path | None = None, *,
                                expired_only: bool) -> tuple[list[UploadSession], int, int]:
    """Remove upload sessions (every one, or only the expired): (the sessions listed before the
    clean, sessions removed, bytes freed)."""
    listed: list[UploadSession] = []
    removed = freed = 0
    for storage in await _open_storages(data_path):
        try:
            listed += await storage.list_uploads(expired=True if expired_only else None)
            count, size = await storage.clean_uploads(expired_only=expired_only)
            removed, freed = removed + int(count), freed + int(size)
        finally:
            await storage.close()
    return listed, removed, freed


# --- bulk import (`ocis storage-users import`) -------------------------------------------------

async def import_tree(source: Path, space: str, dest: str = "/", data_path: Path | None = None,
                      progress: Any = None) -> Any:
    """Import the local folder `source` below `dest` of a space (its id, alias such as
    `personal/einstein`, or a project space's name) through the storage's bulk import
    (storage/bulkimport.py): refused (MaintenanceRefused) while a server uses the data path.
    LookupError: no such space; NotADirectoryError: `source` is not a folder. Returns the
    ImportStats."""
    from ocis_server.domain.paths import split_path
    from ocis_server.storage.bulkimport import walk_folder

    source = Path(source).expanduser()
    if not source.is_dir():
        raise NotADirectoryError(f"{source} is not a folder")
    root = storage_root(data_path)
    if _is_configured(root) and _runtime_answers():
        raise MaintenanceRefused("the server's runtime answers on OCIS_RUNTIME_PORT: stop the "
                                 "server before importing")
    if (root / DB_NAME).is_file():
        try:
            open_db(root, exclusive=True).close()
        except StorageBusy:
            raise MaintenanceRefused("the metadata database is in use by another process (a "
                                     "running server?): stop it before importing") from None
    storage = await _open_storage(data_path)
    if storage is None:
        raise LookupError(f"no space {space!r}: the server has not made any space yet")
    try:
        spaces = await storage.list_spaces()
        found = [s for s in spaces if space in (s.id, s.alias, f"{s.storage_id}${s.id}")]
        found = found or [s for s in spaces if s.type == "project" and s.name == space]
        if len(found) != 1:
            raise LookupError(f"no space {space!r}" if not found else
                              f"{len(found)} spaces are named {space!r}: give its id")
        skipped: list[str] = []
        stats = await storage.import_tree(found[0].id, split_path(dest, encoded=False),
                                          walk_folder(source, skipped), progress=progress)
        stats.skipped[:0] = skipped
        return stats
    finally:
        await storage.close()
