#!/usr/bin/env bash
# Install what Sonance needs on Debian/Ubuntu, then build the UI and the binaries — each step
# only when it has something to do, so a second run takes seconds. Used by scripts/run.sh,
# scripts/test.sh and .ci/run.
#
#   scripts/setup.sh                    what running needs: build tools, WebKitGTK, GStreamer
#   scripts/setup.sh --test             that, plus the test tools (Chromium, ffmpeg, Xvfb, …)
#   scripts/setup.sh --print-packages [--test]
#                                       print the Debian packages it would make sure of, one a
#                                       line, and do nothing else
set -euo pipefail
cd "$(dirname "$0")/.."

test_tools=0 print=0
for arg in "$@"; do
  case "$arg" in
    --test) test_tools=1 ;;
    --print-packages) print=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Running: the C toolchain and cmake (libopus), WebKitGTK and GTK for the desktop app, ALSA for
# native output, D-Bus for the media keys, and GStreamer — plugins-bad has opusparse, without
# which WebKit's MSE refuses Opus.
RUN_PACKAGES=(
  build-essential pkg-config cmake curl file
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev librsvg2-dev libayatana-appindicator3-dev
  libssl-dev libasound2-dev libdbus-1-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
)
# Testing: ffmpeg as an independent checker; Debian's chromium for browser tests; Xvfb, a
# session bus, WebKitWebDriver and xdotool to drive the desktop app; PulseAudio and GStreamer's
# pulsesink so the desktop tests hear the app on a private null sink; python3-gi with GTK's
# introspection data for the drag source (tests/desktop/drag_source.py).
TEST_PACKAGES=(
  ffmpeg chromium xvfb xauth dbus webkit2gtk-driver xdotool
  pulseaudio pulseaudio-utils gstreamer1.0-pulseaudio python3-gi gir1.2-gtk-3.0
)
PACKAGES=("${RUN_PACKAGES[@]}")
((test_tools)) && PACKAGES+=("${TEST_PACKAGES[@]}")
if ((print)); then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

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
# Rebuilt only when its sources changed (a hash of them, kept beside node_modules); build.mjs
# rewrites only files whose bytes changed, so Cargo does not re-embed an unchanged UI.
ui_hash=$(find ui/src ui/index.html ui/build.mjs ui/package.json ui/package-lock.json -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -f ui/dist/index.html ] || [ "$(cat ui/node_modules/.sonance-ui-hash 2>/dev/null)" != "$ui_hash" ]; then
  npm --prefix ui run --silent build
  echo "$ui_hash" > ui/node_modules/.sonance-ui-hash
fi

# The binaries (release: the player must keep up in real time), the desktop app included
# (it embeds ui/dist, so the UI is built first). Cargo's own check: nothing to do takes ~1 s.
cargo build --release --locked --bins

# tauri-driver drives the desktop app's web view in the desktop tests (WebKitWebDriver above).
if ((test_tools)) && ! command -v tauri-driver >/dev/null \
  && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  cargo install tauri-driver --version ^2 --locked
fi
