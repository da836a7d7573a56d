#!/usr/bin/env bash
# Set everything up and run every test: formatting, lints, Rust tests, UI unit tests, and the
# end-to-end tests in Debian's Chromium against the real `sonance serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings
cargo test --release --locked --workspace
npm --prefix ui run --silent typecheck
npm --prefix ui test --silent
SONANCE_BIN="$PWD/target/release/sonance" npm --prefix ui run --silent test:e2e
