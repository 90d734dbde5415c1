#!/usr/bin/env bash
# Puts a nats-server >= 2.10 into the project's tools folder (.tools/bin/nats-server) from Debian's
# own archive, without changing the system's apt sources and without installing a service.
#
# Debian bookworm ships nats-server 2.9.10, which is too old for jetjob (it silently ignores
# term(reason) and rejects multi-filter consumers). trixie ships 2.10.x, whose binary needs only
# libc >= 2.34 and therefore runs on bookworm as it is.
#
# Usage: scripts/install-nats-server.sh [DEST_DIR]
#   DEST_DIR defaults to <repo>/.tools/bin
#   env NATS_DEBIAN_SUITE=trixie|testing|sid (default trixie)
#   env JETJOB_FORCE_NATS_INSTALL=1 to replace an existing binary
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
dest="${1:-$repo/.tools/bin}"
suite="${NATS_DEBIAN_SUITE:-trixie}"
min_minor=10

version_ok() {
  # prints the version and succeeds when the binary is >= 2.10
  local v
  v="$("$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p')" || return 1
  [ -n "$v" ] || return 1
  local major minor
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  echo "$v"
  [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge "$min_minor" ]; }
}

if [ -x "$dest/nats-server" ] && [ -z "${JETJOB_FORCE_NATS_INSTALL:-}" ]; then
  if v="$(version_ok "$dest/nats-server")"; then
    echo "nats-server v$v already in $dest"
    exit 0
  fi
fi

command -v apt-get >/dev/null || { echo "apt-get not found: install nats-server >= 2.10 by hand and put it on PATH" >&2; exit 1; }

# Reuse the Debian mirror apt is already configured with (works for deb822 and one-line sources).
mirror="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null \
  | awk '$2 !~ /security|updates|backports/ {print $1; exit}')"
if [ -z "$mirror" ] && [ "$(id -u)" = "0" ]; then
  # A fresh machine has empty apt lists: fetch them once (only the index, nothing is installed).
  apt-get update -qq >/dev/null
  mirror="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null \
    | awk '$2 !~ /security|updates|backports/ {print $1; exit}')"
fi
if [ -z "$mirror" ]; then
  echo "no Debian mirror found in apt's lists: run 'sudo apt-get update' first" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb $mirror $suite main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" download nats-server >/dev/null)
dpkg-deb -x "$work"/nats-server_*.deb "$work/x"
mkdir -p "$dest"
install -m 0755 "$work/x/usr/sbin/nats-server" "$dest/nats-server"
if ! v="$(version_ok "$dest/nats-server")"; then
  echo "the nats-server from Debian $suite is older than 2.$min_minor; try NATS_DEBIAN_SUITE=testing" >&2
  exit 1
fi
echo "installed nats-server v$v into $dest"
