"""STORAGE_USERS_OCIS_ROOT (oCIS's name): the storage provider's data folder anywhere, e.g. on
another disk than OCIS_BASE_DATA_PATH. The server keeps its metadata and the file bytes there
(nothing under <base>/storage/users), `ocis config show` names it, and `ocis backup consistency`
checks that folder by default."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from ocis_server.config import load_config

CONTENT = b"kept on the other disk\n"


def test_the_default_is_the_base_data_path(tmp_path: Path) -> None:
    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path / "c"),
                          "OCIS_BASE_DATA_PATH": str(tmp_path / "base")})
    assert config.users_root == tmp_path / "base" / "storage" / "users"


def test_the_storage_folder_is_where_the_setting_says(real_server_factory, tmp_path: Path) -> None:
    root = tmp_path / "disk2" / "users"
    with real_server_factory(tmp_path / "srv", {"STORAGE_USERS_OCIS_ROOT": str(root)}) as server:
        request = urllib.request.Request(f"{server.url}/remote.php/webdav/kept.txt",
                                         data=CONTENT, method="PUT")
        request.add_header("Authorization", "Basic YWRtaW46YWRtaW4=")
        with urllib.request.urlopen(request, timeout=20) as resp:
            assert resp.status in (201, 204)
        assert (root / "metadata.db").is_file()
        assert not (tmp_path / "srv" / "data" / "storage" / "users").exists()
        assert any(p.is_file() and p.read_bytes() == CONTENT for p in root.rglob("*"))
        shown = server.ocis("config", "show", "--origin")
        assert shown.returncode == 0, shown.stderr
        assert "STORAGE_USERS_OCIS_ROOT" in shown.stdout and str(root) in shown.stdout
        checked = server.ocis("backup", "consistency", "-o", "json")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert str(root) in json.dumps(json.loads(checked.stdout))
