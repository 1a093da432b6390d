#!/usr/bin/env bash
# test.sh — everything CI checks: formatting, clippy with warnings as errors, and
# all tests, including the end-to-end tests that run real containers in gVisor
# through the shim in private containerd instances. Every step runs even after a
# failure, so one run reports everything; exits non-zero if any step failed.
# Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

failed=()
step() {
  printf '\n==> %s\n' "$*"
  "$@" || failed+=("$*")
}

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
# The e2e tests run target/debug/containerd-shim-runsc-v1, which `cargo test`
# does not build for another package's tests: build every binary first.
step cargo build --workspace --all-targets
step cargo test --workspace --no-fail-fast
# A short fuzz run of the shim's parsers (FUZZ_SECONDS each; see scripts/fuzz.sh).
step bash scripts/fuzz.sh
# The compatibility matrix: the smoke subset on the other containerd and runsc
# versions (scripts/versions.sh), with the full suite's result above for the
# system's pair; writes integration/compat.md and the README's table.
default_result=pass
[[ " ${failed[*]} " == *" cargo test --workspace --no-fail-fast "* ]] && default_result=fail
MATRIX_DEFAULT_RESULT=$default_result step bash scripts/matrix.sh

if ((${#failed[@]})); then
  printf '\ntest.sh: FAILED:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\ntest.sh: all checks passed\n'
