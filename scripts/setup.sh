#!/usr/bin/env bash
# Install everything Sonance needs on Debian/Ubuntu, then build the UI and the binaries.
# Idempotent: a second run only checks. Used by scripts/run.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: build tools and libopus' cmake; ffmpeg as an independent checker in tests;
# Debian's chromium for browser tests; WebKitGTK + GStreamer (plugins-bad has opusparse,
# without which WebKit's MSE refuses Opus) for the desktop app and its tests; PulseAudio and
# GStreamer's pulsesink so the desktop tests hear the app on a private null sink; python3-gi
# with GTK's introspection data for the desktop test's drag source (tests/desktop/drag_source.py).
PACKAGES=(
  build-essential pkg-config cmake curl file ffmpeg chromium
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev librsvg2-dev libayatana-appindicator3-dev
  libssl-dev libasound2-dev libdbus-1-dev xvfb xauth dbus webkit2gtk-driver xdotool
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  pulseaudio pulseaudio-utils gstreamer1.0-pulseaudio python3-gi gir1.2-gtk-3.0
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: Rust is missing: install it from rustup.rs (rust-version in Cargo.toml)"; exit 1; }
command -v npm >/dev/null || { echo "setup: Node.js 20+ and npm are missing (apt-get install nodejs npm)"; exit 1; }

# The web UI. `npm install` (not `npm ci`): it installs the locked versions, and unlike `npm ci`
# it accepts a lock written with `omit-lockfile-registry-resolved` (set on these machines),
# where npm 11 leaves out optional packages for other platforms and `npm ci` then refuses.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  npm --prefix ui install --no-audit --no-fund --loglevel=error
fi
npm --prefix ui run --silent build

# The binaries (release: the player must keep up in real time), the desktop app included
# (it embeds ui/dist, so the UI is built first).
cargo build --release --locked --bins

# tauri-driver drives the desktop app's web view in the desktop tests (WebKitWebDriver above).
if ! command -v tauri-driver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  cargo install tauri-driver --version ^2 --locked
fi
