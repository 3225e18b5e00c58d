"""Trash bin and file versions over WebDAV: `/remote.php/dav/spaces/trash-bin/<drive id>/` and
`/remote.php/dav/meta/<file id>/v` (protocol-notes.md §4). This module alone knows those URLs and props.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from defusedxml import ElementTree  # type: ignore[import-untyped]

from ocis_cli.client.errors import ServerError
from ocis_cli.client.http import HttpClient
from ocis_cli.client.webdav import parse_http_date, dav_path

_D = "{DAV:}"
_OC = "{http://owncloud.org/ns}"
_TRASH_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<oc:trashbin-original-filename/><oc:trashbin-original-location/>"
    b"<oc:trashbin-delete-timestamp/><oc:trashbin-delete-datetime/>"
    b"<d:resourcetype/><d:getcontentlength/><oc:size/></d:prop></d:propfind>"
)
_VERSION_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:getetag/><d:getcontentlength/><d:getlastmodified/><oc:checksums/>"
    b"</d:prop></d:propfind>"
)


@dataclass(frozen=True, slots=True)
class TrashEntry:
    key: str
    name: str
    original_location: str      # space-relative, no leading slash (as oCIS reports it)
    is_folder: bool
    size: int
    deleted: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "original_location": self.original_location,
                "type": "folder" if self.is_folder else "file", "size": self.size,
                "deleted": _iso(self.deleted)}


@dataclass(frozen=True, slots=True)
class VersionEntry:
    key: str
    size: int
    mtime: datetime | None
    etag: str
    checksums: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "mtime": _iso(self.mtime), "etag": self.etag,
                "checksums": self.checksums}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def trash_path(space_id: str, key: str = "") -> str:
    base = f"/remote.php/dav/spaces/trash-bin/{quote(space_id, safe='')}/"
    return base + quote(key, safe="") if key else base


def versions_path(file_id: str, key: str = "") -> str:
    base = f"/remote.php/dav/meta/{quote(file_id, safe='')}/v"
    return f"{base}/{quote(key, safe='')}" if key else base


class Trash:
    """A space's trash bin: list, restore, purge one, empty."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def list(self, space_id: str) -> list[TrashEntry]:
        _, _, body = await self.http.request(
            "PROPFIND", trash_path(space_id), data=_TRASH_PROPS,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        return [_trash_entry(href, props) for href, props in _responses(body)[1:]]

    async def restore(self, space_id: str, key: str, dst_path: str, *,
                      overwrite: bool = False) -> int:
        """MOVE the item to `dst_path` (space-relative); 201 created, 204 replaced."""
        headers = {"Destination": self.http.url(dav_path(space_id, dst_path)),
                   "Overwrite": "T" if overwrite else "F"}
        status, _, _ = await self.http.request("MOVE", trash_path(space_id, key), headers=headers)
        return status

    async def purge(self, space_id: str, key: str) -> None:
        await self.http.request("DELETE", trash_path(space_id, key))

    async def empty(self, space_id: str) -> None:
        await self.http.request("DELETE", trash_path(space_id))


class Versions:
    """The earlier contents of a file (by file id): list, restore."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def list(self, file_id: str) -> list[VersionEntry]:
        _, _, body = await self.http.request(
            "PROPFIND", versions_path(file_id), data=_VERSION_PROPS,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
        return [_version_entry(href, props) for href, props in _responses(body)[1:]]

    async def restore(self, file_id: str, key: str) -> None:
        await self.http.request("COPY", versions_path(file_id, key))


def _responses(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(href, {tag: element}) of each response's 200 properties, in document order."""
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:
        raise ServerError("the server sent an unreadable PROPFIND answer", status=207) from exc
    out = []
    for resp in root.iter(f"{_D}response"):
        props: dict[str, Any] = {}
        for propstat in resp.iter(f"{_D}propstat"):
            if " 200 " in (propstat.findtext(f"{_D}status") or "") + " ":
                for prop in propstat.iter(f"{_D}prop"):
                    props.update((child.tag, child) for child in prop)
        out.append((resp.findtext(f"{_D}href") or "", props))
    return out


def _text(props: dict[str, Any], tag: str) -> str:
    el = props.get(tag)
    return (el.text or "").strip() if el is not None else ""


def _last_segment(href: str) -> str:
    return unquote(urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1])


def _trash_entry(href: str, props: dict[str, Any]) -> TrashEntry:
    rtype = props.get(f"{_D}resourcetype")
    size = _text(props, f"{_OC}size") or _text(props, f"{_D}getcontentlength") or "0"
    stamp = _text(props, f"{_OC}trashbin-delete-timestamp")
    return TrashEntry(
        key=_last_segment(href), name=_text(props, f"{_OC}trashbin-original-filename"),
        original_location=_text(props, f"{_OC}trashbin-original-location"),
        is_folder=rtype is not None and rtype.find(f"{_D}collection") is not None,
        size=int(size) if size.isdigit() else 0,
        deleted=datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else None)


def _version_entry(href: str, props: dict[str, Any]) -> VersionEntry:
    size = _text(props, f"{_D}getcontentlength") or "0"
    sums = props.get(f"{_OC}checksums")
    return VersionEntry(
        key=_last_segment(href), size=int(size) if size.isdigit() else 0,
        mtime=parse_http_date(_text(props, f"{_D}getlastmodified")),
        etag=_text(props, f"{_D}getetag"),
        checksums=" ".join(t.strip() for t in sums.itertext()) if sums is not None else "")
