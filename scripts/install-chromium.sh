#!/usr/bin/env bash
# Makes sure a headless Chromium is available for the dashboard's browser tests: Debian's `chromium`
# package (driven by playwright-core, which downloads nothing). Uses $CHROMIUM_PATH or
# /usr/bin/chromium when present; otherwise installs the package with apt-get (needs root).
set -euo pipefail
path="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$path" ]; then
  echo "chromium already at $path"
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests (about 30 s)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  echo "chromium installed at /usr/bin/chromium"
  exit 0
fi
echo "no chromium at $path: install it (sudo apt-get install chromium) or set CHROMIUM_PATH" >&2
exit 1
