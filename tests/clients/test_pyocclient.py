"""pyocclient (ownCloud's Python client, PyPI `pyocclient`) shares over OCS v1 XML against a real
server: einstein shares a file with marie, lists and checks it; marie lists it as received.

What does not work with it, by design of oCIS ids: pyocclient converts share ids with int()
(`ShareInfo._get_int`, silently None on failure), and get_share / update_share / delete_share
refuse anything that is not an int. oCIS share ids are `<storageid>:<spaceid>:<uuid>` strings,
so `ShareInfo.get_id()` is None and those three calls return None/False without a request;
the tests below pin that down so a change on either side is noticed.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
owncloud = pytest.importorskip("owncloud")


def client(url: str, user: str, password: str):
    oc = owncloud.Client(url + "/")
    oc.login(user, password)
    return oc


def test_share_file_with_user_and_list_over_ocs_xml(real_server) -> None:
    einstein = client(real_server.url, "einstein", "relativity")
    einstein.mkdir("pyocclient")
    einstein.put_file_contents("pyocclient/report.txt", b"E = mc^2")
    assert einstein.is_shared("pyocclient/report.txt") is False

    info = einstein.share_file_with_user("pyocclient/report.txt", "marie", perms=1)
    raw_id = info.share_info["id"]
    assert raw_id.count(":") == 2                       # <storageid>:<spaceid>:<uuid>
    assert info.get_id() is None                        # int() fails on oCIS-style ids

    assert einstein.is_shared("pyocclient/report.txt") is True
    (share,) = einstein.get_shares("pyocclient/report.txt")
    assert share.share_info["id"] == raw_id
    assert share.get_share_type() == 0
    assert share.get_share_with() == "marie"
    assert share.get_share_with_displayname() == "Marie Curie"
    assert share.get_permissions() == 1
    assert share.get_path() == "/pyocclient/report.txt"
    assert share.get_share_time() is not None

    # the calls that insist on int ids never reach the server
    assert einstein.get_share(raw_id) is None
    assert einstein.delete_share(raw_id) is False

    marie = client(real_server.url, "marie", "radioactivity")
    received = marie.get_shares("/", shared_with_me=True)
    mine = [s for s in received if s.share_info["id"] == raw_id]
    assert len(mine) == 1 and mine[0].get_path() == "/Shares/report.txt"
    assert mine[0].share_info["uid_owner"] == "einstein"


def test_share_folder_with_group(real_server) -> None:
    import requests
    admin = requests.Session()
    admin.auth = real_server.admin
    created = admin.post(real_server.url + "/graph/v1.0/groups",
                         json={"displayName": "pyocclient-physics"})
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    added = admin.post(real_server.url + f"/graph/v1.0/groups/{group_id}/members/$ref",
                       json={"@odata.id": f"{real_server.url}/graph/v1.0/users/moss"})
    assert added.status_code == 204, added.text

    einstein = client(real_server.url, "einstein", "relativity")
    einstein.mkdir("pyocclient-group")
    info = einstein.share_file_with_group("pyocclient-group", "pyocclient-physics", perms=15)
    raw_id = info.share_info["id"]
    (share,) = einstein.get_shares("pyocclient-group")
    assert share.get_share_type() == 1 and share.get_share_with() == "pyocclient-physics"
    assert share.get_permissions() == 15

    moss = client(real_server.url, "moss", "vista")
    mine = [s for s in moss.get_shares("/", shared_with_me=True) if s.share_info["id"] == raw_id]
    assert len(mine) == 1 and mine[0].get_share_type() == 1
    # moss writes through the legacy /Shares namespace pyocclient speaks
    moss.put_file_contents("Shares/pyocclient-group/from-moss.txt", b"moss")
    assert einstein.get_file_contents("pyocclient-group/from-moss.txt") == b"moss"


@pytest.mark.parametrize("password", [None, "Link-Secret-42!"])
def test_share_file_with_link_then_public_webdav(real_server, password) -> None:
    """`share_file_with_link` (OCS v1 XML, shareType=3) returns a ShareInfo whose token opens the
    folder over /dav/public-files/<token>/ (basic `public:<password>` when one is set). Its `id` is
    the raw oCIS share id string: pyocclient does not int() it here, but get_id() still does."""
    import requests
    einstein = client(real_server.url, "einstein", "relativity")
    folder = f"pyocclient-link-{'pw' if password else 'open'}"
    einstein.mkdir(folder)
    einstein.put_file_contents(f"{folder}/note.txt", b"public note")

    kwargs = {"password": password} if password else {}
    info = einstein.share_file_with_link(folder, **kwargs)
    token = info.get_token()
    assert token and info.get_link() == f"{real_server.url}/s/{token}"
    assert info.share_info["id"].count(":") == 2 and info.get_id() is None
    assert info.get_path() == f"/{folder}"
    (share,) = einstein.get_shares(folder)
    assert share.get_share_type() == 3 and share.get_token() == token

    url = f"{real_server.url}/dav/public-files/{token}/note.txt"
    auth = ("public", password) if password else None
    got = requests.get(url, auth=auth, timeout=10)
    assert got.status_code == 200 and got.content == b"public note"
    if password:
        assert requests.get(url, auth=("public", "wrong"), timeout=10).status_code == 401
        assert requests.get(url, timeout=10).status_code == 401
