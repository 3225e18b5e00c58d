"""`ocis config show [--origin] [-o json]` through the real CLI in a subprocess: every setting of the
schema, values from default, ocis.toml and environment with their origins, secrets never printed;
and docs/configuration.md documents every setting with its env vars and default."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ocis_server.config import FIELDS
from ocis_server.config.show import markdown, text

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DOC = REPO_ROOT / "docs" / "configuration.md"
FILE_SECRET = "file-jwt-secret-Zq8"
ENV_SECRET = "env-ldap-bind-pw-Kx3"
SERVER_PREFIXES = ("OCIS_", "PROXY_", "IDM_", "IDP_", "USERS_", "STORAGE_USERS_", "GATEWAY_",
                   "FRONTEND_", "GRAPH_", "OCDAV_", "WEBFINGER_")


def _ocis(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_PREFIXES)}
    clean.update({"OCIS_CONFIG_DIR": str(tmp_path / "config"), "HOME": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-m", "ocis_cli", "config", "show", *args], cwd=tmp_path,
                          env=clean, capture_output=True, text=True, timeout=60, check=False)


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "ocis.toml"
    path.parent.mkdir()
    path.write_text('[proxy]\nhttp_addr = "127.0.0.1:9301"\n'
                    f'[token_manager]\njwt_secret = "{FILE_SECRET}"\n'
                    '[log]\nlevel = "info"\n')
    return path


def test_table_shows_every_setting_with_its_origin(tmp_path: Path) -> None:
    path = _config_file(tmp_path)
    proc = _ocis(tmp_path, "--origin", OCIS_LOG_LEVEL="debug", OCIS_LDAP_BIND_PASSWORD=ENV_SECRET)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in proc.stdout.splitlines()}
    assert list(rows) == [f.key for f in FIELDS]
    # KEY, ENV, VALUE, ORIGIN (tab separated when piped)
    assert rows["proxy.http_addr"][1:] == ["PROXY_HTTP_ADDR", "127.0.0.1:9301", f"file ({path})"]
    assert rows["log.level"][2:] == ["debug", "env (OCIS_LOG_LEVEL)"]       # env beats the file
    assert rows["ocis_url"][2:] == ["http://127.0.0.1:9200", "default"]
    assert rows["ldap.bind_password"][1:] == ["USERS_LDAP_BIND_PASSWORD, OCIS_LDAP_BIND_PASSWORD",
                                              "***", "env (OCIS_LDAP_BIND_PASSWORD)"]
    assert rows["token_manager.jwt_secret"][2:] == ["***", f"file ({path})"]
    assert rows["transfer_secret"][2:] == ["", "default"]                   # unset stays visible
    assert FILE_SECRET not in proc.stdout + proc.stderr
    assert ENV_SECRET not in proc.stdout + proc.stderr


def test_without_origin_there_is_no_origin_column(tmp_path: Path) -> None:
    _config_file(tmp_path)
    proc = _ocis(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert all(len(line.split("\t")) == 3 for line in proc.stdout.splitlines())


def test_json_lists_every_setting_masked_with_origins(tmp_path: Path) -> None:
    path = _config_file(tmp_path)
    proc = _ocis(tmp_path, "--origin", "-o", "json", PROXY_ENABLE_BASIC_AUTH="true",
                 IDM_SVC_PASSWORD=ENV_SECRET)
    assert proc.returncode == 0, proc.stderr
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    assert [row["key"] for row in data] == [f.key for f in FIELDS]
    by_key = {row["key"]: row for row in data}
    assert by_key["proxy.enable_basic_auth"]["value"] is True
    assert by_key["proxy.enable_basic_auth"]["origin"] == {"kind": "env",
                                                           "source": "PROXY_ENABLE_BASIC_AUTH"}
    assert by_key["proxy.http_addr"]["origin"] == {"kind": "file", "source": str(path)}
    assert by_key["idm.size_limit"] == {"key": "idm.size_limit", "env": ["IDM_SIZE_LIMIT"],
                                        "value": 1000, "secret": False,
                                        "origin": {"kind": "default", "source": ""}}
    assert by_key["runtime.services"]["value"] == []
    for spec in FIELDS:
        if spec.secret:
            assert by_key[spec.key]["secret"] is True
            assert by_key[spec.key]["value"] in ("", "***"), spec.key
    assert by_key["idm.service_user_passwords.idm_password"]["value"] == "***"
    assert FILE_SECRET not in proc.stdout and ENV_SECRET not in proc.stdout
    plain = json.loads(_ocis(tmp_path, "-o", "json").stdout)
    assert all("origin" not in row for row in plain)


def test_without_a_config_file_defaults_are_shown_and_the_note_says_so(tmp_path: Path) -> None:
    proc = _ocis(tmp_path, "--origin", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {row["origin"]["kind"] for row in data if row["key"] != "config_dir"} == {"default"}
    assert "does not exist" in proc.stderr and "ocis init" in proc.stderr


def test_a_broken_config_file_is_an_error_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ocis.toml").write_text("[proxy\n")
    proc = _ocis(tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "not valid TOML" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_settings_named_like_secrets_are_marked_secret() -> None:
    """A new password/secret/key setting is masked by `config show` only if the schema says so."""
    for spec in FIELDS:
        last = spec.key.rsplit(".", 1)[-1]
        looks_secret = spec.type == "str" and re.search(r"(password|secret|api_key|token)$", last)
        assert spec.secret == bool(looks_secret), f"{spec.key}: secret={spec.secret}"


def test_configuration_doc_is_current() -> None:
    assert CONFIG_DOC.read_text(encoding="utf-8") == markdown(), \
        "docs/configuration.md is stale: run python -m ocis_cli.docsgen and commit it"


def test_every_setting_is_documented_with_env_vars_and_default() -> None:
    rows: dict[str, list[str]] = {}
    for line in CONFIG_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        match = re.match(r"`([^`]+)`", cells[0]) if cells else None
        if match:
            rows[match.group(1)] = cells
    assert set(rows) == {f.key for f in FIELDS}
    for spec in FIELDS:
        _, env, _, default, description = rows[spec.key]
        assert re.findall(r"`([^`]+)`", env) == list(spec.env), spec.key
        shown = text(spec.default).replace("|", "\\|")
        assert default == (f"`{shown}`" if shown else "(empty)"), spec.key
        assert description, spec.key
