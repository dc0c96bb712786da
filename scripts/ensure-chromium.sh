#!/usr/bin/env bash
# The browser tests (tests/web/) drive Debian's Chromium through Playwright; no browser
# is ever downloaded by npm or Playwright. Install it from Debian's packages when missing.
set -euo pipefail
CHROMIUM="${DECONFLICTION_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
fail() {
    echo "error: the browser tests need Chromium at $CHROMIUM and it could not be installed: $1" >&2
    echo "       install it by hand (Debian: apt-get install -y chromium) or point" \
        "DECONFLICTION_CHROMIUM at a Chromium binary" >&2
    exit 1
}
command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available"
sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "not root and no sudo"
    sudo=(sudo -n)
fi
echo "Installing Debian's chromium for the browser tests ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2 || fail "apt-get update failed"
"${sudo[@]}" apt-get install -y -qq chromium >&2 </dev/null || fail "apt-get install chromium failed"
[ -x "$CHROMIUM" ] || fail "installed, but $CHROMIUM is still missing"
