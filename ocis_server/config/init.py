"""`ocis init`: write ocis.toml with fresh secrets and ids, readable by its owner only."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from .certs import ensure_self_signed
from .loader import CONFIG_FILE, ConfigError, parse_value
from .schema import by_attr


@dataclass(frozen=True, slots=True)
class InitResult:
    path: Path                  # the written ocis.toml
    admin_password: str
    backup: Path | None         # the previous file, kept when --force-overwrite replaced it
    password_generated: bool = False


def _config_dir(config_dir: Path | None, env: Mapping[str, str]) -> Path:
    if config_dir is not None:
        return Path(config_dir).expanduser()
    spec = by_attr()["config_dir"]
    value: Path = parse_value(spec, env.get("OCIS_CONFIG_DIR", spec.default), "OCIS_CONFIG_DIR")
    return value


def _base_data_path(env: Mapping[str, str]) -> Path:
    spec = by_attr()["base_data_path"]
    value: Path = parse_value(spec, env.get("OCIS_BASE_DATA_PATH", spec.default), "OCIS_BASE_DATA_PATH")
    return value


def _document(*, insecure: bool, admin_password: str) -> tomlkit.TOMLDocument:
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Written by `ocis init` on {time.strftime('%Y-%m-%d %H:%M:%S')}."))
    doc.add(tomlkit.comment("Environment variables override every value (see `ocis config show --origin`)."))
    doc.add(tomlkit.nl())
    doc.add("insecure", insecure)
    doc.add("admin_user_id", str(uuid.uuid4()))
    doc.add("transfer_secret", secrets.token_urlsafe(32))
    doc.add("machine_auth_api_key", secrets.token_urlsafe(32))
    token_manager = tomlkit.table()
    token_manager.add("jwt_secret", secrets.token_urlsafe(32))
    doc.add("token_manager", token_manager)
    storage = tomlkit.table()
    storage.add(tomlkit.comment("first part of every space id; changing it breaks existing ids"))
    storage.add("mount_id", str(uuid.uuid4()))
    doc.add("storage_users", storage)
    idm = tomlkit.table()
    idm.add(tomlkit.comment("used only when the admin user is created at first start"))
    idm.add("admin_password", admin_password)
    passwords = tomlkit.table()      # the service accounts of idm's ou=sysusers, as oCIS generates
    for name in ("idm_password", "idp_password", "reva_password"):
        passwords.add(name, secrets.token_urlsafe(24))
    idm.add("service_user_passwords", passwords)
    doc.add("idm", idm)
    return doc


def _backup_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d%H%M%S")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    return candidate


def _write_private(path: Path, text: str) -> None:
    """Write via a 0600 temp file and rename, so the secrets are never world-readable."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run_init(*, insecure: bool, admin_password: str | None, force_overwrite: bool,
             config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> InitResult:
    """Create `<config dir>/ocis.toml`. An existing file is refused unless `force_overwrite`,
    which keeps it as `ocis.toml.<timestamp>.bak`."""
    env = os.environ if env is None else env
    directory = _config_dir(config_dir, env)
    path = directory / CONFIG_FILE
    if path.exists() and not force_overwrite:
        raise ConfigError(f"config file {path} already exists; use --force-overwrite to replace it "
                          "(the old file is kept as a backup)")
    password = admin_password or env.get("IDM_ADMIN_PASSWORD") or env.get("ADMIN_PASSWORD") or ""
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        backup: Path | None = None
        if path.exists():
            backup = _backup_name(path)
            os.replace(path, backup)
        _write_private(path, tomlkit.dumps(_document(insecure=insecure, admin_password=password)))
        base = _base_data_path(env) / "idm"     # idm's LDAPS certificate, kept when it exists
        ensure_self_signed(base / "ldap.crt", base / "ldap.key")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return InitResult(path, password, backup, generated)
