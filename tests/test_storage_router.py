"""Several storage providers behind one front (issue 16): a real `ocis server` with a second
embedded provider (STORAGE_USERS_EXTRA_MOUNT_IDS), so a `StorageRouter` places and routes.
Users whose personal spaces sit on different providers, project spaces placed by fewest bytes,
pinning, a share from one provider to a user on the other, COPY across providers (MOVE: 502),
and a provider that goes away (its spaces 503 + Retry-After, the rest fine, listings 200 with the
missing space marked) and comes back without a restart."""

from __future__ import annotations

import base64
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests

from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.domain.roles import SPACE_VIEWER
from tests.conftest import RealServer, launch_real_server
from tests.kit.users import DEMO_PASSWORDS

B = "b0b0b0b0-0000-4000-8000-00000000000b"
JAIL = f"{SHARE_JAIL_ID}${SHARE_JAIL_ID}"
OCS_SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


def _auth(user: str) -> tuple[str, str]:
    return (user, DEMO_PASSWORDS[user])


def _drives(server: RealServer, user: str, path: str = "/graph/v1.0/me/drives") -> list[dict]:
    response = requests.get(server.url + path, auth=_auth(user), timeout=10)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def _personal(server: RealServer, user: str) -> dict:
    return next(d for d in _drives(server, user) if d["driveType"] == "personal")


def _mount(drive: dict) -> str:
    return str(drive["id"]).split("$", 1)[0]


def _dav(server: RealServer, user: str, method: str, path: str, **kw: object) -> requests.Response:
    return requests.request(method, f"{server.url}/remote.php/dav/spaces/{path}",
                            auth=_auth(user), timeout=10, **kw)  # type: ignore[arg-type]


def _new_project(server: RealServer, name: str) -> dict:
    response = requests.post(server.url + "/graph/v1.0/drives", auth=_auth("admin"), timeout=10,
                             json={"name": name, "quota": {"total": 0}})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _project_on(server: RealServer, mount: str) -> dict:
    """A project space of the admin's on provider `mount`: an existing one, else new ones
    until placement picks it (the other provider made heavier each time)."""
    for drive in _drives(server, "admin", "/graph/v1.0/drives"):
        if drive["driveType"] == "project" and _mount(drive) == mount:
            return drive
    for _ in range(6):
        drive = _new_project(server, f"on-{uuid.uuid4().hex[:6]}")
        if _mount(drive) == mount:
            return drive
        assert _dav(server, "admin", "PUT", f"{drive['id']}/weight.bin",
                    data=b"w" * (8 * 1024 * 1024)).status_code == 201
    raise AssertionError(f"no project space placed on {mount}")


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    env = {"STORAGE_USERS_EXTRA_MOUNT_IDS": B, "OCIS_RUNTIME_HEALTH_INTERVAL": "0.5"}
    with launch_real_server(tmp_path_factory.mktemp("routed"), env) as server:
        yield server


def _primary(server: RealServer) -> str:
    return str(_personal(server, "admin")["id"]).split("$", 1)[0]


def test_personal_spaces_of_users_sit_on_different_providers(routed: RealServer) -> None:
    mounts = {user: _mount(_personal(routed, user)) for user in ("admin", "einstein", "marie")}
    primary = mounts["admin"]
    assert primary != B
    assert set(mounts.values()) == {primary, B}          # both providers hold personal spaces
    assert (routed.workdir / "data" / "storage" / f"users-{B}" / "metadata.db").exists()
    for user in ("einstein", "marie"):                   # each works end to end on its own
        drive = _personal(routed, user)["id"]
        body = f"hello from {user}".encode()
        assert _dav(routed, user, "PUT", f"{drive}/hello.txt", data=body).status_code == 201
        assert _dav(routed, user, "GET", f"{drive}/hello.txt").content == body
        listing = _dav(routed, user, "PROPFIND", f"{drive}/", headers={"Depth": "1"})
        assert listing.status_code == 207 and "hello.txt" in listing.text


def test_project_spaces_go_to_the_provider_with_fewest_bytes(routed: RealServer) -> None:
    primary = _primary(routed)
    first = _new_project(routed, f"p-{uuid.uuid4().hex[:6]}")
    heavy = first["id"]
    # fill the provider the first project landed on: the next project goes to the other one
    blob = b"x" * (2 * 1024 * 1024)
    assert _dav(routed, "admin", "PUT", f"{heavy}/big.bin", data=blob).status_code == 201
    second = _new_project(routed, f"p-{uuid.uuid4().hex[:6]}")
    assert {_mount(first), _mount(second)} == {primary, B}
    blob3 = b"y" * (5 * 1024 * 1024)
    assert _dav(routed, "admin", "PUT", f"{second['id']}/bigger.bin", data=blob3).status_code == 201
    third = _new_project(routed, f"p-{uuid.uuid4().hex[:6]}")
    assert _mount(third) == _mount(first)                # now the lighter one again
    listed = {d["id"] for d in _drives(routed, "admin", "/graph/v1.0/drives")}
    assert {first["id"], second["id"], third["id"]} <= listed


def test_copy_across_providers_streams_and_move_answers_502(routed: RealServer) -> None:
    primary = _primary(routed)
    on_primary, other = _project_on(routed, primary), _project_on(routed, B)
    src, dst = on_primary["id"], other["id"]
    assert _dav(routed, "admin", "MKCOL", f"{src}/tree").status_code == 201
    assert _dav(routed, "admin", "MKCOL", f"{src}/tree/sub").status_code == 201
    content = bytes(range(256)) * 5000
    assert _dav(routed, "admin", "PUT", f"{src}/tree/sub/data.bin", data=content).status_code == 201
    dest = f"{routed.url}/remote.php/dav/spaces/{dst}/copied"
    copied = _dav(routed, "admin", "COPY", f"{src}/tree", headers={"Destination": dest})
    assert copied.status_code == 201, copied.text
    got = _dav(routed, "admin", "GET", f"{dst}/copied/sub/data.bin")
    assert got.status_code == 200 and got.content == content
    again = _dav(routed, "admin", "COPY", f"{src}/tree",
                 headers={"Destination": dest, "Overwrite": "F"})
    assert again.status_code == 412
    moved = _dav(routed, "admin", "MOVE", f"{src}/tree",
                 headers={"Destination": f"{routed.url}/remote.php/dav/spaces/{dst}/moved"})
    assert moved.status_code == 502
    assert _dav(routed, "admin", "GET", f"{src}/tree/sub/data.bin").content == content


def _share_folder(server: RealServer, owner: str, folder: str, recipient: str) -> None:
    response = requests.post(server.url + OCS_SHARES, auth=_auth(owner), timeout=10,
                             headers={"OCS-APIRequest": "true"},
                             data={"path": f"/{folder}", "shareType": "0",
                                   "shareWith": recipient, "permissions": "15"})
    assert response.status_code == 200, response.text


def _jail_names(server: RealServer, user: str) -> list[str]:
    listing = _dav(server, user, "PROPFIND", f"{JAIL}/", headers={"Depth": "1"})
    assert listing.status_code == 207, listing.text
    hrefs = [h.text or "" for h in ET.fromstring(listing.content).iter("{DAV:}href")]
    return [unquote(h.rstrip("/").rsplit("/", 1)[-1]) for h in hrefs[1:]]


def test_a_share_across_providers_reaches_the_share_jail(routed: RealServer) -> None:
    einstein = _personal(routed, "einstein")
    other = next(u for u in ("marie", "moss", "richard", "katherine")
                 if _mount(_personal(routed, u)) != _mount(einstein))   # on the other provider
    folder = f"shared-{uuid.uuid4().hex[:6]}"
    assert _dav(routed, "einstein", "MKCOL", f"{einstein['id']}/{folder}").status_code == 201
    assert _dav(routed, "einstein", "PUT", f"{einstein['id']}/{folder}/notes.txt",
                data=b"E=mc2").status_code == 201
    _share_folder(routed, "einstein", folder, other)
    assert folder in _jail_names(routed, other)
    # the recipient syncs it: reads what is there, writes back, and he sees the change
    assert _dav(routed, other, "GET", f"{JAIL}/{folder}/notes.txt").content == b"E=mc2"
    assert _dav(routed, other, "PUT", f"{JAIL}/{folder}/from-other.txt",
                data=b"radium").status_code == 201
    assert _dav(routed, "einstein", "GET",
                f"{einstein['id']}/{folder}/from-other.txt").content == b"radium"
    listed = requests.get(routed.url + OCS_SHARES, auth=_auth(other), timeout=10,
                          params={"shared_with_me": "true", "format": "json"},
                          headers={"OCS-APIRequest": "true"})
    assert listed.status_code == 200
    assert any(s["path"].endswith(folder) for s in listed.json()["ocs"]["data"])


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_provider_away_degrades_only_its_spaces_and_comes_back(routed: RealServer) -> None:
    demo = ("einstein", "marie", "moss", "richard", "katherine")
    on_b = next(u for u in demo if _mount(_personal(routed, u)) == B)
    on_a = next(u for u in demo if _mount(_personal(routed, u)) != B)
    b_drive, a_drive = _personal(routed, on_b)["id"], _personal(routed, on_a)["id"]
    kept = _dav(routed, on_b, "PUT", f"{b_drive}/keep.txt", data=b"kept")
    assert kept.status_code == 201
    shared = f"away-{uuid.uuid4().hex[:6]}"             # a share on B, mounted in A's user's jail
    assert _dav(routed, on_b, "MKCOL", f"{b_drive}/{shared}").status_code == 201
    _share_folder(routed, on_b, shared, on_a)
    assert shared in _jail_names(routed, on_a)
    project = _project_on(routed, B)
    member = _personal(routed, on_a)["owner"]["user"]["id"]
    invited = requests.post(f"{routed.url}/graph/v1beta1/drives/{project['id']}/root/invite",
                            auth=_auth("admin"), timeout=10, json={
                                "recipients": [{"objectId": member,
                                                "@libre.graph.recipient.type": "user"}],
                                "roles": [SPACE_VIEWER.id]})
    assert invited.status_code == 200, invited.text
    folder = routed.workdir / "data" / "storage" / f"users-{B}"
    away = folder.with_name(folder.name + ".away")      # its disk is gone (unmounted)
    folder.rename(away)
    try:
        def b_answers_503() -> bool:
            return _dav(routed, on_b, "GET", f"{b_drive}/keep.txt").status_code == 503
        _wait(b_answers_503)
        started = time.monotonic()
        response = _dav(routed, on_b, "PROPFIND", f"{b_drive}/", headers={"Depth": "1"})
        assert response.status_code == 503
        assert time.monotonic() - started < 1.0
        assert int(response.headers["Retry-After"]) >= 1
        # by bare file id too (the router knows the node's provider)
        versions = requests.request(
            "PROPFIND", f"{routed.url}/remote.php/dav/meta/{kept.headers['OC-FileId']}/v",
            auth=_auth(on_b), timeout=10, headers={"Depth": "1"})
        assert versions.status_code == 503
        # the other provider's spaces go on
        assert _dav(routed, on_a, "PUT", f"{a_drive}/during.txt", data=b"ok").status_code == 201
        assert _dav(routed, on_a, "GET", f"{a_drive}/during.txt").content == b"ok"
        # listings stay 200 and mark the missing space from the registry's snapshot
        mine = {d["id"]: d for d in _drives(routed, on_b)}
        assert mine[b_drive]["@ocis.unavailable"] is True
        assert mine[b_drive]["driveType"] == "personal"
        # a member (not the creator) of a project space on B sees it too, marked
        theirs = {d["id"]: d for d in _drives(routed, on_a)}
        assert theirs[project["id"]]["@ocis.unavailable"] is True
        assert "@ocis.unavailable" not in theirs[a_drive]
        everything = {d["id"]: d for d in _drives(routed, "admin", "/graph/v1.0/drives")}
        assert everything[b_drive].get("@ocis.unavailable") is True
        assert "@ocis.unavailable" not in everything[a_drive]
        # the share jail: 207, the share on B still mounted (a sync client must not take it for
        # removed), with no permissions; requests into it answer 503
        assert shared in _jail_names(routed, on_a)
        listing = _dav(routed, on_a, "PROPFIND", f"{JAIL}/", headers={"Depth": "1"})
        entry = next(r for r in ET.fromstring(listing.content).iter("{DAV:}response")
                     if unquote(r.findtext("{DAV:}href") or "").rstrip("/").endswith(shared))
        assert entry.findtext(".//{http://owncloud.org/ns}permissions") == ""
        inside = _dav(routed, on_a, "PROPFIND", f"{JAIL}/{shared}/", headers={"Depth": "1"})
        assert inside.status_code == 503 and "Retry-After" in inside.headers
        health = requests.get(f"http://127.0.0.1:{routed.runtime_port}/health", timeout=10)
        assert "degraded" in health.text
    finally:
        away.rename(folder)
    _wait(lambda: _dav(routed, on_b, "GET", f"{b_drive}/keep.txt").status_code == 200)
    assert _dav(routed, on_b, "GET", f"{b_drive}/keep.txt").content == b"kept"
    assert "@ocis.unavailable" not in {d["id"]: d for d in _drives(routed, on_b)}[b_drive]


def test_pinned_personal_and_project_spaces(tmp_path: Path) -> None:
    env = {"STORAGE_USERS_EXTRA_MOUNT_IDS": B, "STORAGE_USERS_PERSONAL_SPACES_MOUNT_ID": B}
    with launch_real_server(tmp_path / "pinned", env) as server:
        mounts = {_mount(_personal(server, u)) for u in ("admin", "einstein", "marie", "moss")}
        assert mounts == {B}
        # unpinned project spaces: fewest bytes (both empty), then fewest spaces: the primary
        projects = [_mount(_new_project(server, f"q{i}")) for i in range(2)]
        assert all(m != B for m in projects)


def test_same_named_shares_from_two_providers_get_distinct_mounts(routed: RealServer) -> None:
    demo = ("einstein", "marie", "moss", "richard", "katherine")
    on_b = next(u for u in demo if _mount(_personal(routed, u)) == B)
    on_a = next(u for u in demo if _mount(_personal(routed, u)) != B)
    recipient = next(u for u in demo if u not in (on_a, on_b))
    folder = f"Same-{uuid.uuid4().hex[:6]}"
    for sharer in (on_a, on_b):
        drive = _personal(routed, sharer)["id"]
        assert _dav(routed, sharer, "MKCOL", f"{drive}/{folder}").status_code == 201
        assert _dav(routed, sharer, "PUT", f"{drive}/{folder}/who.txt",
                    data=sharer.encode()).status_code == 201
        _share_folder(routed, sharer, folder, recipient)
    names = _jail_names(routed, recipient)
    assert folder in names and f"{folder} (1)" in names
    seen = {_dav(routed, recipient, "GET", f"{JAIL}/{name}/who.txt").content
            for name in (folder, f"{folder} (1)")}
    assert seen == {on_a.encode(), on_b.encode()}        # each mount opens its own provider


async def test_events_of_a_share_on_the_other_provider_name_its_mount(routed: RealServer) -> None:
    from tests.sse_helpers import SseReader
    demo = ("einstein", "marie", "moss", "richard", "katherine")
    on_b = next(u for u in demo if _mount(_personal(routed, u)) == B)
    recipient = next(u for u in demo if _mount(_personal(routed, u)) != B)
    drive = _personal(routed, on_b)["id"]
    folder = f"ev-{uuid.uuid4().hex[:6]}"
    assert _dav(routed, on_b, "MKCOL", f"{drive}/{folder}").status_code == 201
    async with SseReader(routed.url, recipient, DEMO_PASSWORDS[recipient]) as sse:
        _share_folder(routed, on_b, folder, recipient)
        created = await sse.next()
        assert created.event == "share-created"
        assert created.data["itemid"].startswith(f"{B}$"), created.data
        assert created.data["spaceid"] == drive


def test_tus_versions_trash_and_locks_on_the_second_provider(routed: RealServer) -> None:
    """What finds its provider by upload id, bare file id or lock token works on either."""
    demo = ("einstein", "marie", "moss", "richard", "katherine")
    user = next(u for u in demo if _mount(_personal(routed, u)) == B)
    drive = _personal(routed, user)["id"]
    tus = {"Tus-Resumable": "1.0.0"}
    data = b"0123456789" * 3000
    created = _dav(routed, user, "POST", f"{drive}/", headers={
        **tus, "Upload-Length": str(len(data)),
        "Upload-Metadata": "filename " + base64.b64encode(b"tus.bin").decode()})
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    for offset in (0, 10000):
        end = 10000 if offset == 0 else len(data)
        patched = requests.patch(location, auth=_auth(user), timeout=10, data=data[offset:end],
                                 headers={**tus, "Upload-Offset": str(offset),
                                          "Content-Type": "application/offset+octet-stream"})
        assert patched.status_code == 204, patched.text
    assert _dav(routed, user, "GET", f"{drive}/tus.bin").content == data
    # versions by bare file id (the router finds the provider of the node)
    first = _dav(routed, user, "PUT", f"{drive}/v.txt", data=b"first")
    assert _dav(routed, user, "PUT", f"{drive}/v.txt", data=b"second").status_code == 204
    file_id = first.headers["OC-FileId"]
    assert file_id.startswith(f"{B}$")
    versions = requests.request("PROPFIND", f"{routed.url}/remote.php/dav/meta/{file_id}/v",
                                auth=_auth(user), timeout=10, headers={"Depth": "1"})
    assert versions.status_code == 207 and versions.text.count("<d:response>") == 2
    # trash and restore
    assert _dav(routed, user, "DELETE", f"{drive}/v.txt").status_code == 204
    trash = requests.request("PROPFIND", f"{routed.url}/remote.php/dav/spaces/trash-bin/{drive}",
                             auth=_auth(user), timeout=10, headers={"Depth": "1"})
    assert trash.status_code == 207 and "v.txt" in trash.text
    # a lock on the second provider, found again by its token
    lock_body = ('<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
                 '</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>')
    locked = _dav(routed, user, "LOCK", f"{drive}/tus.bin", data=lock_body,
                  headers={"Timeout": "Second-60"})
    assert locked.status_code == 200, locked.text
    token = locked.headers["Lock-Token"]
    assert _dav(routed, user, "PUT", f"{drive}/tus.bin", data=b"x").status_code == 423
    assert _dav(routed, user, "UNLOCK", f"{drive}/tus.bin",
                headers={"Lock-Token": token}).status_code == 204
    assert _dav(routed, user, "PUT", f"{drive}/tus.bin", data=b"x").status_code == 204


def test_chunked_upload_lands_on_the_users_provider_and_not_across(routed: RealServer) -> None:
    """Chunking NG: the chunks go to the provider of the user's personal space; the final MOVE
    into a space there works, into one on the other provider answers 502 (not a 500)."""
    primary = _primary(routed)
    drive = _personal(routed, "admin")["id"]
    elsewhere = _project_on(routed, B if _mount(_personal(routed, "admin")) == primary
                            else primary)
    data = bytes(range(256)) * 100
    for transfer, target, status in ((f"t-{uuid.uuid4().hex[:6]}", drive, 201),
                                     (f"t-{uuid.uuid4().hex[:6]}", elsewhere["id"], 502)):
        root = f"{routed.url}/remote.php/dav/uploads/admin/{transfer}"
        made = requests.request("MKCOL", root, auth=_auth("admin"), timeout=10,
                                headers={"OC-Total-Length": str(len(data))})
        assert made.status_code == 201, made.text
        for offset in (0, 12800):
            put = requests.put(f"{root}/{offset:015d}", auth=_auth("admin"), timeout=10,
                               data=data[offset:offset + 12800],
                               headers={"OC-Chunk-Offset": str(offset)})
            assert put.status_code in (201, 204), put.text
        moved = requests.request("MOVE", f"{root}/.file", auth=_auth("admin"), timeout=10,
                                 headers={"Destination": f"{routed.url}/remote.php/dav/spaces/"
                                                         f"{target}/chunked.bin",
                                          "OC-Total-Length": str(len(data))})
        assert moved.status_code == status, moved.text
    assert _dav(routed, "admin", "GET", f"{drive}/chunked.bin").content == data


def test_upload_sessions_of_every_provider_in_the_cli(routed: RealServer) -> None:
    """`ocis storage-users uploads sessions` lists the sessions of the extra provider too."""
    demo = ("einstein", "marie", "moss", "richard", "katherine")
    names = []
    for on_b in (True, False):
        user = next(u for u in demo if (_mount(_personal(routed, u)) == B) == on_b)
        name = f"pending-{'b' if on_b else 'a'}-{uuid.uuid4().hex[:6]}.bin"
        created = _dav(routed, user, "POST", f"{_personal(routed, user)['id']}/", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": "10",
            "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode()})
        assert created.status_code == 201, created.text
        names.append(name)
    listed = routed.ocis("storage-users", "uploads", "sessions")
    assert listed.returncode == 0, listed.stderr
    assert all(f"/{name}" in listed.stdout for name in names), listed.stdout
