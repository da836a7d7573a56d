#!/usr/bin/env bash
# Set everything up and play FILES (default: the bundled demo track) in the Sonance player:
# the desktop app when there is a display, else (or with SONANCE_BROWSER=1) `sonance serve` on
# loopback, opened in your browser (not with SONANCE_NO_OPEN=1). Installs only what running needs;
# once set up, it starts in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${SONANCE_BROWSER:-}" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  exec target/release/sonance-desktop "$@"
fi
[ $# -gt 0 ] || set -- assets/demo.flac
exec target/release/sonance serve --port "${SONANCE_PORT:-8411}" "$@" | while read -r line; do
  echo "$line"
  case "$line" in
    "listening on "*)
      url=${line#listening on }
      [ -n "${SONANCE_NO_OPEN:-}" ] || (xdg-open "$url" >/dev/null 2>&1 || true) & ;;
  esac
done
