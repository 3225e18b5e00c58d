"""docs/operations.md stays true: every setting its limits table names exists in the config schema,
with the default the table says, and the limits this team added to the schema are all listed."""

from __future__ import annotations

import re
from pathlib import Path

from ocis_server.config import FIELDS

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
# Settings that are limits and must have a row (add yours when you add a limit).
MUST_LIST = ("PROXY_LOGIN_MAX_FAILURES", "PROXY_HEADER_READ_TIMEOUT", "PROXY_IDLE_TIMEOUT", "PROXY_MAX_BODY_SIZE",
             "PROXY_MAX_HEADER_SIZE", "OCIS_RUNTIME_MAX_FAILURES",
             "OCIS_RUNTIME_MAX_RESTART_BACKOFF", "IDM_MAX_CONNECTIONS",
             "STORAGE_USERS_FREE_SPACE_RESERVE", "GRAPH_PERSONAL_SPACES_DEFAULT_QUOTA",
             "GRAPH_SPACES_DEFAULT_QUOTA", "PROXY_MAX_CONNECTIONS",
             "PROXY_MAX_CONNECTIONS_PER_ADDRESS", "PROXY_RESERVED_FILE_DESCRIPTORS",
             "PROXY_BODY_MIN_BYTES", "PROXY_BODY_RATE_WINDOW", "USERS_LDAP_TIMEOUT")


def _rows() -> dict[str, str]:
    """setting -> default cell, from every table whose header starts with `| limit`."""
    rows: dict[str, str] = {}
    in_table = False
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0].lower() == "limit":
            in_table = True
        elif in_table and len(cells) == 4 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = cells[2]
    return rows


def test_every_row_names_a_real_setting_with_its_real_default() -> None:
    rows = _rows()
    assert len(rows) >= len(MUST_LIST)
    by_env = {env: f for f in FIELDS for env in f.env}
    for setting, default in rows.items():
        assert setting in by_env, f"docs/operations.md names {setting}, which is no setting"
        number = re.match(r"-?[0-9.]+", default)
        assert number, f"{setting}: the default cell {default!r} does not start with a number"
        real = by_env[setting].default
        assert isinstance(real, (int, float)), setting
        assert float(number.group()) == float(real), f"{setting}: doc says {default}, schema {real}"


def test_the_limits_are_all_listed() -> None:
    missing = [name for name in MUST_LIST if name not in _rows()]
    assert not missing, f"docs/operations.md lacks rows for {missing}"
