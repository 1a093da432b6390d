#!/usr/bin/env bash
# test.sh — everything CI checks: formatting, clippy with warnings as errors, and
# all tests, including the end-to-end tests that run real containers in gVisor
# through the shim in private containerd instances. Exits non-zero on any failure.
# Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The e2e tests run target/debug/containerd-shim-runsc-v1, which `cargo test`
# does not build for another package's tests: build every binary first.
step "cargo build"
cargo build --workspace --all-targets
step "cargo test"
cargo test --workspace
