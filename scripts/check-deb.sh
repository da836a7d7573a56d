#!/usr/bin/env bash
# Check a built Sonance .deb with dpkg-deb: its control fields (name, the GStreamer and WebKit
# dependencies, section) and its files (binary, desktop entry, icons, the demo track). Fails
# with a line per problem.   scripts/check-deb.sh path/to/Sonance_0.1.0_amd64.deb
set -euo pipefail
deb="${1:?usage: scripts/check-deb.sh FILE.deb}"
problems=0
fail() { echo "check-deb: $*" >&2; problems=$((problems + 1)); }

field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = "sonance" ] || fail "Package is '$(field Package)', expected 'sonance'"
[ "$(field Section)" = "sound" ] || fail "Section is '$(field Section)', expected 'sound'"
depends=$(field Depends)
# Without plugins-bad's opusparse, WebKitGTK refuses Opus in WebM and MSE playback fails.
for dep in gstreamer1.0-plugins-bad gstreamer1.0-plugins-good gstreamer1.0-plugins-base libwebkit2gtk-4.1-0 libgtk-3-0; do
  grep -Eq "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep (Depends: $depends)"
done

# Paths as dpkg-deb lists them, without a leading './'.
files=$(dpkg-deb --contents "$deb" | awk '{print $NF}' | sed 's|^\./||')
for f in usr/bin/sonance-desktop usr/share/applications/Sonance.desktop usr/lib/Sonance/demo.flac; do
  grep -qxF "$f" <<<"$files" || fail "missing $f"
done
grep -q '^usr/share/icons/hicolor/.*/apps/sonance-desktop\.png$' <<<"$files" || fail "no icon under /usr/share/icons/hicolor"

# The binary inside runs far enough to print its usage (links, is executable).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
dpkg-deb --extract "$deb" "$tmp"
"$tmp/usr/bin/sonance-desktop" --help >/dev/null || fail "the packaged binary does not run (--help)"
desktop="$tmp/usr/share/applications/Sonance.desktop"
[ ! -f "$desktop" ] || grep -q '^Exec=sonance-desktop' "$desktop" || fail "the desktop entry does not run sonance-desktop"

if ((problems)); then
  echo "check-deb: $problems problem(s) in $deb" >&2
  exit 1
fi
echo "check-deb: $deb ok ($(du -h "$deb" | cut -f1); Depends: $depends)"
