"""In-app notifications (`/ocs/v2.php/apps/notifications/api/v1/notifications`, oCIS userlog)
against a real server: a share received and a space membership become notifications for the
recipient (never for who made the change), in oCIS's shape; DELETE removes them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import RealServer, launch_real_server

NOTIFICATIONS = "/ocs/v2.php/apps/notifications/api/v1/notifications"
SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
EINSTEIN, MARIE = ("einstein", "relativity"), ("marie", "radioactivity")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with launch_real_server(tmp_path_factory.mktemp("userlog")) as srv:
        yield srv


def _notifications(server: RealServer, auth: tuple[str, str], expect: int = 0,
                   timeout: float = 10.0) -> list[dict[str, Any]]:
    """The user's notifications once there are at least `expect` (the bus is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(server.url + NOTIFICATIONS, auth=auth)
        assert r.status_code == 200, r.text
        data = r.json()["ocs"]["data"]
        assert isinstance(data, list)
        if len(data) >= expect or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


def test_share_and_membership_notify_the_recipient(server: RealServer) -> None:
    dav = f"{server.url}/remote.php/dav/files/einstein/relativity"
    assert requests.request("MKCOL", dav, auth=EINSTEIN).status_code == 201
    r = requests.post(server.url + SHARES, auth=EINSTEIN, params={"format": "json"},
                      data={"path": "/relativity", "shareType": "0", "shareWith": "marie",
                            "permissions": "1"})
    assert r.status_code == 200, r.text
    [shared] = _notifications(server, MARIE, 1)
    assert (shared["app"], shared["subject"], shared["object_type"]) == (
        "userlog", "Resource shared", "share")
    assert shared["message"] == "Albert Einstein shared relativity with you"
    assert shared["messageRich"] == "{user} shared {resource} with you"
    assert shared["messageRichParameters"]["user"]["name"] == "einstein"
    assert shared["messageRichParameters"]["resource"]["name"] == "relativity"
    assert shared["user"] == "einstein" and shared["notification_id"] and shared["datetime"]
    assert _notifications(server, EINSTEIN) == []          # not for who shared

    drive = requests.post(server.url + "/graph/v1.0/drives", auth=("admin", "admin"),
                          json={"name": "Lab"})
    assert drive.status_code == 201, drive.text
    r = requests.post(server.url + SHARES, auth=("admin", "admin"), params={"format": "json"},
                      data={"space_ref": drive.json()["id"], "shareType": "7",
                            "shareWith": "marie", "role": "viewer"})
    assert r.status_code == 200, r.text
    both = _notifications(server, MARIE, 2)
    assert [n["subject"] for n in both] == ["Resource shared", "Space shared"]
    assert both[1]["message"] == "Admin added you to Space Lab"
    assert both[1]["messageRichParameters"]["space"]["name"] == "Lab"

    gone = requests.delete(server.url + NOTIFICATIONS, auth=MARIE,
                           json={"ids": [shared["notification_id"]]})
    assert gone.status_code == 200
    assert [n["subject"] for n in _notifications(server, MARIE)] == ["Space shared"]


def test_capability_announces_the_endpoints(server: RealServer) -> None:
    r = requests.get(server.url + "/ocs/v2.php/cloud/capabilities", params={"format": "json"})
    caps = r.json()["ocs"]["data"]["capabilities"]
    assert caps["notifications"] == {"ocs-endpoints": ["list", "delete"]}


def test_bad_input(server: RealServer) -> None:
    assert requests.get(server.url + NOTIFICATIONS).status_code == 401
    bad = requests.delete(server.url + NOTIFICATIONS, auth=MARIE, data=b"not json")
    assert bad.status_code == 400 and bad.json()["ocs"]["meta"]["statuscode"] == 400
    wrong = requests.delete(server.url + NOTIFICATIONS, auth=MARIE, json={"ids": "x"})
    assert wrong.status_code == 400


def _in_app(server: RealServer, auth: tuple[str, str], setting_id: str, on: bool) -> None:
    r = requests.post(server.url + "/api/v0/settings/values-save", auth=auth, json={"value": {
        "bundleId": "2a506de7-99bd-4f0d-994e-c38e72c28fd9", "settingId": setting_id,
        "accountUuid": "me", "resource": {"type": "TYPE_USER"},
        "collectionValue": {"values": [{"key": "in-app", "boolValue": on}]}}})
    assert r.status_code == 201, r.text


def test_in_app_option_off_silences_that_event_only(server: RealServer) -> None:
    """The settings service's `event-share-created-options` with `in-app` off: no notification
    for a share received (oCIS userlog `filter.go`), while a space membership (its own option,
    untouched) still notifies; on again, shares notify again. The membership notification is
    also the sync point: the bus delivers in order, so the share before it was handled."""
    richard = ("richard", "superfluidity")
    share_created = "872d8ef6-6f2a-42ab-af7d-f53cc81d7046"
    _in_app(server, richard, share_created, False)
    dav = f"{server.url}/remote.php/dav/files/einstein"
    for folder in ("quiet", "loud"):
        assert requests.request("MKCOL", f"{dav}/{folder}", auth=EINSTEIN).status_code == 201
    r = requests.post(server.url + SHARES, auth=EINSTEIN, params={"format": "json"},
                      data={"path": "/quiet", "shareType": "0", "shareWith": "richard",
                            "permissions": "1"})
    assert r.status_code == 200, r.text
    drive = requests.post(server.url + "/graph/v1.0/drives", auth=("admin", "admin"),
                          json={"name": "Quiet Lab"})
    assert drive.status_code == 201, drive.text
    r = requests.post(server.url + SHARES, auth=("admin", "admin"), params={"format": "json"},
                      data={"space_ref": drive.json()["id"], "shareType": "7",
                            "shareWith": "richard", "role": "viewer"})
    assert r.status_code == 200, r.text
    notes = _notifications(server, richard, 1)
    assert [n["subject"] for n in notes] == ["Space shared"], notes
    _in_app(server, richard, share_created, True)
    r = requests.post(server.url + SHARES, auth=EINSTEIN, params={"format": "json"},
                      data={"path": "/loud", "shareType": "0", "shareWith": "richard",
                            "permissions": "1"})
    assert r.status_code == 200, r.text
    notes = _notifications(server, richard, 2)
    assert [n["subject"] for n in notes] == ["Space shared", "Resource shared"]
    assert notes[1]["messageRichParameters"]["resource"]["name"] == "loud"
