#!/usr/bin/env bash
# Engine benchmark (issue 2), printed as a table. Reference in the same run: ffmpeg doing the
# equivalent work (decode, resample to 48 kHz, libopus 160 kb/s complexity 10, WebM).
#   scripts/bench.sh [RUNS]      (after scripts/setup.sh)
# Inputs are made from the bundled demo track (music) and from pink noise (the hardest case
# for Opus), 5 minutes at 44.1 kHz stereo FLAC; memory compares a 3-minute and a 3-hour file.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
S=target/release/sonance
W=${BENCH_DIR:-/tmp/sonance-bench}
mkdir -p "$W"
[ -x "$S" ] || cargo build --release --locked --bin sonance
gen() { [ -f "$W/$1" ] || ffmpeg -v error -nostdin -y "${@:2}" -ar 44100 -ac 2 -c:a flac "$W/$1"; }
gen music5m.flac -stream_loop -1 -i assets/demo.flac -t 300
gen pink5m.flac -f lavfi -i "anoisesrc=color=pink:amplitude=0.3:duration=300:seed=1"
gen music3m.flac -stream_loop -1 -i assets/demo.flac -t 180
gen music3h.flac -stream_loop -1 -i assets/demo.flac -t 10800

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "| input | sonance × realtime | ffmpeg × realtime | ratio | first chunk cold (ms) | cached chunk (ms) | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|"
for f in music5m pink5m; do
  rt=(); first=(); cached=(); ff=(); rss=0
  for _ in $(seq "$RUNS"); do
    j=$($S bench "$W/$f.flac")
    rt+=("$(echo "$j" | field realtime_factor)"); first+=("$(echo "$j" | field first_chunk_ms)")
    cached+=("$(echo "$j" | field cached_chunk_ms)"); rss=$(echo "$j" | field peak_rss_mb)
    t0=$(date +%s.%N)
    ffmpeg -v error -nostdin -y -i "$W/$f.flac" -ar 48000 -c:a libopus -b:a 160k -compression_level 10 -f webm "$W/ff.webm"
    t1=$(date +%s.%N)
    ff+=("$(python3 -c "print(300/($t1-$t0))")")
  done
  r=$(printf '%s\n' "${rt[@]}" | median); fr=$(printf '%s\n' "${ff[@]}" | median)
  printf '| %s | %.0f | %.0f | %.2f | %.0f | %.3f | %.1f |\n' "$f" "$r" "$fr" "$(python3 -c "print($r/$fr)")" \
    "$(printf '%s\n' "${first[@]}" | median)" "$(printf '%s\n' "${cached[@]}" | median)" "$rss"
done
echo
echo "| file | chunks rendered (spread over the track) | peak RSS (MB) |"
echo "|---|---|---|"
for f in music3m music3h; do
  j=$($S bench "$W/$f.flac" --chunks 6)
  printf '| %s | 6 | %.1f |\n' "$f" "$(echo "$j" | field peak_rss_mb)"
done
