#!/bin/sh
# Seed corpus for probe_decode: a tenth of a second of each format ffmpeg makes, each
# prefixed by the byte that picks its extension in the target (see EXTENSIONS there).
set -eu
out="$(dirname "$0")/corpus/probe_decode"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
make() { # index extension ffmpeg-codec-args...
    i=$1; ext=$2; shift 2
    ffmpeg -v error -nostdin -y -f lavfi -i "sine=f=440:d=0.1:r=22050" -ac 2 "$@" "$tmp/s.$ext"
    printf "\\$(printf '%03o' "$i")" > "$out/seed-$ext"
    cat "$tmp/s.$ext" >> "$out/seed-$ext"
}
make 0 wav -c:a pcm_s16le
make 1 flac -c:a flac
make 2 mp3 -c:a libmp3lame
make 3 m4a -c:a aac
make 4 ogg -c:a libvorbis
make 5 mkv -c:a flac
make 6 caf -c:a pcm_s16be
make 7 aiff -c:a pcm_s16be
make 8 webm -c:a libopus
make 9 opus -c:a libopus
ls -la "$out"
