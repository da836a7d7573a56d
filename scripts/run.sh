#!/usr/bin/env bash
# Set everything up and play FILES (default: the bundled demo track) in the Sonance player.
# Opens the player in your browser via `sonance serve` on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ $# -gt 0 ] || set -- assets/demo.flac
exec target/release/sonance serve --port "${SONANCE_PORT:-8411}" "$@" | while read -r line; do
  echo "$line"
  case "$line" in
    "listening on "*) url=${line#listening on }; (xdg-open "$url" >/dev/null 2>&1 || true) & ;;
  esac
done
