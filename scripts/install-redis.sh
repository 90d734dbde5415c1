#!/usr/bin/env bash
# Puts a redis-server into the project's tools folder (.tools/bin/redis-server) for the BullMQ side of
# `npm run bench`, from Debian's own archive, without installing a package or a service.
#
# Debian's redis-server package holds only the service files and a symlink: the binary is
# redis-tools' redis-check-rdb, which runs as a server when it is called redis-server. It needs
# liblzf1 and libjemalloc2 (not on a fresh system) and a few common libraries. This script downloads
# redis-tools and whichever of its library dependencies are missing, extracts them into
# .tools/lib/redis, and writes .tools/bin/redis-server, a wrapper that runs the binary with those
# libraries (LD_LIBRARY_PATH) through exec, so the process id stays the server's.
#
# Usage: scripts/install-redis.sh [TOOLS_DIR]
#   TOOLS_DIR defaults to <repo>/.tools (binary in TOOLS_DIR/bin, libraries in TOOLS_DIR/lib/redis)
#   env JETJOB_FORCE_REDIS_INSTALL=1 to install into TOOLS_DIR even when redis-server is on PATH
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
tools="${1:-$repo/.tools}"
bin="$tools/bin"
lib="$tools/lib/redis"

runs() { "$1" --version 2>/dev/null | sed -n 's/.* v=\([0-9.]*\).*/\1/p'; }

if [ -z "${JETJOB_FORCE_REDIS_INSTALL:-}" ]; then
  if found="$(command -v redis-server)" && v="$(runs "$found")" && [ -n "$v" ]; then
    echo "redis-server $v already on PATH ($found)"
    exit 0
  fi
  if [ -x "$bin/redis-server" ] && v="$(runs "$bin/redis-server")" && [ -n "$v" ]; then
    echo "redis-server $v already in $bin"
    exit 0
  fi
fi

command -v apt-get >/dev/null || { echo "apt-get not found: install redis-server by hand and put it on PATH" >&2; exit 1; }

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
if [ -z "$(candidate redis-tools)" ] || [ "$(candidate redis-tools)" = "(none)" ]; then
  if [ "$(id -u)" = "0" ]; then
    # A fresh machine has empty apt lists: fetch them once (only the index, nothing is installed).
    apt-get update -qq >/dev/null
  fi
  if [ -z "$(candidate redis-tools)" ] || [ "$(candidate redis-tools)" = "(none)" ]; then
    echo "redis-tools not found in apt's lists: run 'sudo apt-get update' first" >&2
    exit 1
  fi
fi

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# redis-tools' direct library dependencies (first of each alternative) that this system lacks.
pkgs=(redis-tools)
while read -r dep; do
  installed "$dep" || pkgs+=("$dep")
done < <(apt-cache depends redis-tools 2>/dev/null | sed -n 's/^ *|\{0,1\}Depends: \(lib[^ :<>]*\).*/\1/p' | sort -u)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get -o APT::Sandbox::User=root download "${pkgs[@]}" >/dev/null)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done

rm -rf "$lib"
mkdir -p "$bin" "$lib"
install -m 0755 "$work/x/usr/bin/redis-check-rdb" "$lib/redis-server"
for d in "$work/x/usr/lib/x86_64-linux-gnu" "$work/x/lib/x86_64-linux-gnu" "$work/x/usr/lib/$(uname -m)-linux-gnu" \
  "$work/x/lib/$(uname -m)-linux-gnu"; do
  [ -d "$d" ] && cp -a "$d"/*.so* "$lib"/ 2>/dev/null || true
done
cat >"$bin/redis-server" <<'EOF'
#!/bin/sh
# Written by scripts/install-redis.sh: runs Debian's redis-server with the libraries beside it.
here="$(dirname "$(readlink -f "$0")")"
lib="$here/../lib/redis"
LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$lib/redis-server" "$@"
EOF
chmod 0755 "$bin/redis-server"

if missing="$(LD_LIBRARY_PATH="$lib" ldd "$lib/redis-server" 2>/dev/null | grep 'not found')" && [ -n "$missing" ]; then
  echo "redis-server still misses libraries:" >&2
  echo "$missing" >&2
  exit 1
fi
if ! v="$(runs "$bin/redis-server")" || [ -z "$v" ]; then
  echo "the installed redis-server does not run: $bin/redis-server --version" >&2
  exit 1
fi
echo "installed redis-server $v into $bin (libraries in $lib: ${pkgs[*]})"
