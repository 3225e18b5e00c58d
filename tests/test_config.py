"""Configuration: env > ocis.toml > default with origins; `ocis init` writes a private file, refuses to
overwrite it, and keeps a backup when forced."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from ocis_server.config import FIELDS, Config, ConfigError, load_config, run_init


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"OCIS_CONFIG_DIR": str(tmp_path / "config"), "OCIS_BASE_DATA_PATH": str(tmp_path / "data"),
            **extra}


def _write(tmp_path: Path, text: str) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "ocis.toml").write_text(text)


def test_defaults_without_file_or_env(tmp_path: Path) -> None:
    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path)})
    assert config.ocis_url == "http://127.0.0.1:9200"
    assert config.proxy_http_addr == "127.0.0.1:9200"
    assert config.runtime_host == "127.0.0.1" and config.runtime_port == 9250
    assert config.idm_ldaps_addr == "127.0.0.1:9235"
    assert config.base_data_path == Path("~/.ocis").expanduser()
    assert config.basic_auth is False and config.create_demo_users is False
    assert config.debug_addr("ocdav") == "" and config.debug_addr("proxy") == ""
    assert config.origin("proxy_http_addr").kind == "default"
    assert config.origin("config_dir").kind == "env"
    assert not config.initialized


def test_default_config_dir_is_in_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config({})
    assert config.config_dir == tmp_path / ".ocis" / "config"
    assert config.config_file == tmp_path / ".ocis" / "config" / "ocis.toml"


def test_env_beats_file_beats_default(tmp_path: Path) -> None:
    _write(tmp_path, '[proxy]\nhttp_addr = "127.0.0.1:9300"\nenable_basic_auth = true\n'
                     '[log]\nlevel = "info"\n')
    config = load_config(_env(tmp_path, OCIS_LOG_LEVEL="debug"))
    assert config.proxy_http_addr == "127.0.0.1:9300"
    assert config.origin("proxy.http_addr").kind == "file"
    assert config.origin("proxy_http_addr").source.endswith("ocis.toml")
    assert config.basic_auth is True
    assert config.log_level == "debug"
    assert str(config.origin("log_level")) == "env (OCIS_LOG_LEVEL)"
    assert config.origin("ocis_url").kind == "default"
    overridden = load_config(_env(tmp_path, PROXY_HTTP_ADDR="127.0.0.1:9400",
                                  PROXY_ENABLE_BASIC_AUTH="false"))
    assert overridden.proxy_http_addr == "127.0.0.1:9400"
    assert overridden.basic_auth is False
    assert overridden.origin("proxy_http_addr").source == "PROXY_HTTP_ADDR"


def test_service_specific_env_beats_global(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path, OCIS_TRANSFER_SECRET="global",
                              STORAGE_USERS_TRANSFER_SECRET="specific",
                              OCIS_ADMIN_USER_ID="global-id"))
    assert config.transfer_secret == "specific"
    assert config.origin("transfer_secret").source == "STORAGE_USERS_TRANSFER_SECRET"
    assert config.admin_user_id == "global-id"
    assert load_config(_env(tmp_path, OCIS_ADMIN_USER_ID="g", IDM_ADMIN_USER_ID="s")).admin_user_id == "s"


def test_lists_from_env_and_file(tmp_path: Path) -> None:
    _write(tmp_path, '[runtime]\ndisabled_services = ["graph", "frontend"]\n')
    config = load_config(_env(tmp_path, OCIS_ADD_RUN_SERVICES=" ocm, ,webfinger "))
    assert config.exclude_run_services == ["graph", "frontend"]
    assert config.add_run_services == ["ocm", "webfinger"]
    assert config.run_services == []


@pytest.mark.parametrize(("var", "value"), [("PROXY_ENABLE_BASIC_AUTH", "maybe"),
                                            ("OCIS_RUNTIME_PORT", "nine"),
                                            ("PROXY_HTTP_ADDR", "no-port")])
def test_invalid_env_value_names_the_variable(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_config(_env(tmp_path, **{var: value}))


def test_bad_file_is_a_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "[proxy\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_env(tmp_path))
    _write(tmp_path, '[proxy]\nhttp_adr = "x:1"\n')
    with pytest.raises(ConfigError, match="unknown setting.*proxy.http_adr"):
        load_config(_env(tmp_path))


def test_schema_fields_match_config_attributes() -> None:
    attrs = set(Config.__dataclass_fields__) - {"origins"}
    assert {f.attr for f in FIELDS} == attrs
    assert len({f.key for f in FIELDS}) == len(FIELDS)
    for f in FIELDS:
        assert f.env and f.description, f.attr


def test_init_writes_private_file_with_fresh_secrets(tmp_path: Path) -> None:
    env = _env(tmp_path)
    result = run_init(insecure=True, admin_password=None, force_overwrite=False, env=env)
    assert result.path == tmp_path / "config" / "ocis.toml"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.path.parent.stat().st_mode) == 0o700
    assert result.password_generated and len(result.admin_password) >= 16
    assert result.backup is None
    config = load_config(env)
    config.require_initialized()
    secrets = {config.jwt_secret, config.transfer_secret, config.machine_auth_api_key}
    assert len(secrets) == 3 and all(len(s) >= 32 for s in secrets)
    assert config.admin_password == result.admin_password
    assert config.origin("jwt_secret").kind == "file"
    assert config.jwt_secret not in repr(config) and result.admin_password not in repr(config)
    assert config.insecure is True
    assert len(config.storage_id) == 36 and len(config.admin_user_id) == 36
    other = tmp_path / "other"
    second = run_init(insecure=False, admin_password="given", force_overwrite=False, config_dir=other)
    assert second.admin_password == "given" and not second.password_generated
    data = tomllib.loads(second.path.read_text())
    assert data["token_manager"]["jwt_secret"] != config.jwt_secret
    assert data["storage_users"]["mount_id"] != config.storage_id


def test_init_takes_admin_password_from_env(tmp_path: Path) -> None:
    result = run_init(insecure=True, admin_password=None, force_overwrite=False,
                      env=_env(tmp_path, IDM_ADMIN_PASSWORD="from-env"))
    assert result.admin_password == "from-env" and not result.password_generated


def test_init_refuses_to_overwrite_then_keeps_backup_when_forced(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = run_init(insecure=True, admin_password="one", force_overwrite=False, env=env)
    before = first.path.read_text()
    with pytest.raises(ConfigError, match="already exists.*--force-overwrite"):
        run_init(insecure=True, admin_password="two", force_overwrite=False, env=env)
    assert first.path.read_text() == before
    forced = run_init(insecure=True, admin_password="two", force_overwrite=True, env=env)
    assert forced.backup is not None and forced.backup.read_text() == before
    assert forced.backup.name.startswith("ocis.toml.") and forced.backup.name.endswith(".bak")
    assert stat.S_IMODE(forced.backup.stat().st_mode) == 0o600
    assert load_config(env).admin_password == "two"
    again = run_init(insecure=True, admin_password="three", force_overwrite=True, env=env)
    assert again.backup is not None and again.backup != forced.backup and forced.backup.exists()


def test_server_refuses_to_start_without_config(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path))
    with pytest.raises(ConfigError, match="ocis init"):
        config.require_initialized()
    _write(tmp_path, 'insecure = true\n')
    with pytest.raises(ConfigError, match="jwt_secret"):
        load_config(_env(tmp_path)).require_initialized()
