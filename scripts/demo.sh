#!/usr/bin/env bash
# demo.sh — build the shim and the test harness, then start a private containerd
# and run `cat /proc/version` and `dmesg` inside gVisor through the shim
# (`target/debug/harness demo`). Exits non-zero if anything fails. Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --workspace
target/debug/harness demo
