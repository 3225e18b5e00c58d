"""What `ocis config show` and docs/configuration.md print, read from the schema: every setting, its
value with secrets masked, where it came from, and the Markdown table of keys, env vars and defaults.

A setting added to `FIELDS` appears in both without more code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .loader import Config, Origin
from .schema import FIELDS, Field

MASK = "***"


def plain(value: object) -> Any:
    """A value as JSON has it: paths as strings, everything else unchanged."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def masked(spec: Field, value: object) -> Any:
    """The value to show: a set secret becomes `***`, an unset one stays empty (so it shows as unset)."""
    if spec.secret and value not in ("", None):
        return MASK
    return plain(value)


def text(value: object) -> str:
    """A shown value as one table cell: true/false, lists comma separated, tables as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if any(isinstance(item, dict) for item in value):
            return json.dumps(value, separators=(",", ":"), sort_keys=True)
        return ",".join(str(item) for item in value)
    return str(plain(value))


def origin_json(origin: Origin) -> dict[str, str]:
    return {"kind": origin.kind, "source": origin.source}


def settings(config: Config, *, with_origin: bool) -> list[dict[str, Any]]:
    """Every setting of the schema as `{key, env, value[, origin]}`, secrets masked."""
    out = []
    for spec, value, origin in config.items():
        row: dict[str, Any] = {"key": spec.key, "env": list(spec.env), "value": masked(spec, value),
                               "secret": spec.secret}
        if with_origin:
            row["origin"] = origin_json(origin)
        out.append(row)
    return out


def _md(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def _default(spec: Field) -> str:
    shown = text(spec.default)
    return f"`{_md(shown)}`" if shown else "(empty)"


def markdown() -> str:
    """docs/configuration.md: one row per setting (`python -m ocis_cli.docsgen` writes it)."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from ocis_server/config/schema.py by `python -m ocis_cli.docsgen`; "
        "do not edit. -->",
        "",
        "Every setting of the server, in the order of the schema (`ocis_server/config/schema.py`).",
        "A value comes from the default, else from the key in `$OCIS_CONFIG_DIR/ocis.toml` (dotted",
        "keys are TOML tables: `proxy.http_addr` is `http_addr` in `[proxy]`), else from the first",
        "environment variable listed that is set (service-specific names before global ones, as in",
        "oCIS). `ocis config show --origin` prints the effective values and where each came from;",
        "secrets are masked.",
        "",
        "| key | environment variables | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for spec in FIELDS:
        key = f"`{spec.key}`" if spec.in_file else f"`{spec.key}` (environment only)"
        env = ", ".join(f"`{name}`" for name in spec.env)
        kind = spec.type + (", secret" if spec.secret else "")
        lines.append(f"| {key} | {env} | {kind} | {_default(spec)} | {_md(spec.description)} |")
    return "\n".join(lines) + "\n"
