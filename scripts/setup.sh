#!/usr/bin/env bash
# Create ./.venv (Python >= 3.11) if missing and install this project into it, editable.
# Usage: scripts/setup.sh [--test]     (--test adds the [test] extras: pytest, import-linter, ...)
# Re-running is cheap: the install is skipped while pyproject.toml and the extras are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
venv=${VENV:-.venv}

pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "setup: need Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to apt-get install $*" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# A venv made while ensurepip was missing has a python but no pip: make it again.
if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python)
  if ! "$py" -m venv "$venv"; then
    # Debian splits ensurepip out of the interpreter: python3-venv brings it back.
    rm -rf "$venv"
    ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install python3-venv "python$ver-venv" || apt_install python3-venv
    "$py" -m venv "$venv"
  fi
fi

stamp="$venv/.ocis-installed"
want="$(sha256sum pyproject.toml | cut -c1-16)$extras"
have=$(cat "$stamp" 2>/dev/null || true)
# an install with the [test] extras also satisfies a plain one
if { [ "$have" = "$want" ] || [ "$have" = "$want[test]" ]; } \
   && "$venv/bin/python" -c 'import ocis_cli' 2>/dev/null; then
  exit 0
fi
"$venv/bin/python" -m pip install --disable-pip-version-check -q -e ".$extras"
echo "$want" > "$stamp"
echo "setup: $venv ready ($("$venv/bin/python" --version), project installed editable$extras)"
