#!/usr/bin/env bash
# Build the desktop app's Debian package and check what it holds:
#
#   scripts/package-deb.sh      → target/release/bundle/deb/Sonance_<version>_<arch>.deb
#
# Needs the Tauri CLI 2 (installed if missing: `cargo install tauri-cli --version ^2 --locked`,
# ~7 min here) and what scripts/setup.sh installs. Not part of scripts/test.sh: CI stays within
# its time; run it before a release. The other formats (AppImage, .msi/NSIS, .dmg) are built the
# same way on their systems: `cargo tauri build --bundles appimage|msi|nsis|dmg` (see below for
# the config layout).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v cargo-tauri >/dev/null; then
  cargo install tauri-cli --version '^2' --locked
fi
[ -d ui/node_modules ] || npm --prefix ui install --no-audit --no-fund --loglevel=error
npm --prefix ui run --silent build

# The CLI wants tauri.conf.json beside the crate and resolves its paths from there; ours lives
# at the repository root (build.rs and generate_context! point at it). Hand the CLI a copy in
# src-tauri/ with the root-relative paths rewritten, removed again when we are done.
conf=src-tauri/tauri.conf.json
[ ! -e "$conf" ] || { echo "package-deb: $conf exists; remove it first" >&2; exit 1; }
trap 'rm -f "$conf"' EXIT
node -e '
  const fs = require("fs");
  const c = JSON.parse(fs.readFileSync("tauri.conf.json", "utf8"));
  c.build.frontendDist = "../" + c.build.frontendDist;
  c.bundle.icon = c.bundle.icon.map((p) => p.replace(/^src-tauri\//, ""));
  fs.writeFileSync(process.argv[1], JSON.stringify(c, null, 2));
' "$conf"
(cd src-tauri && CARGO_TARGET_DIR="$TARGET_DIR" cargo tauri build --ci --bundles deb)

deb=$(ls -t "$TARGET_DIR"/release/bundle/deb/*.deb | head -n1)
scripts/check-deb.sh "$deb"
