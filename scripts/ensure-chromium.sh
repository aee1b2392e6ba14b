#!/usr/bin/env bash
# The browser tests (tests/browser) drive Debian's Chromium through Playwright; screenshots
# need a CJK font to show Chinese. Install both when missing and we can (root + apt-get).
set -euo pipefail
want=()
[ -x "${JXC_CHROMIUM:-/usr/bin/chromium}" ] || want+=(chromium)
fc-list 2>/dev/null | grep -qi "cjk\|wqy\|droid sans fallback" || want+=(fonts-noto-cjk)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${want[*]} (Debian packages) for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${want[@]}" >/dev/null
  exit 0
fi
echo "Missing ${want[*]} and cannot install them (need root and apt-get); browser tests will be skipped outside CI." >&2
