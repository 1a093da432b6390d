#!/usr/bin/env bash
# fuzz.sh — runs the cargo-fuzz targets of the shim's parsers (runsc.toml,
# runtime options, CRI annotations) for FUZZ_SECONDS each (default 20, the
# short CI run; for a long run: FUZZ_SECONDS=1800 bash scripts/fuzz.sh).
# Installs cargo-fuzz from crates.io if missing. libFuzzer needs nightly
# flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain pass them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../shim"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
seconds=${FUZZ_SECONDS:-20}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

for target in runsc_toml runtime_options pod_annotations; do
  echo "fuzz.sh: $target for ${seconds}s"
  log=$(mktemp)
  status=0
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$seconds" >"$log" 2>&1 || status=$?
  grep -E '^(Done|==[0-9]+==|thread .* panicked)' "$log" || true
  if ((status != 0)); then
    tail -n 40 "$log" >&2
    rm -f "$log"
    echo "fuzz.sh: $target failed (exit $status); a crash input is in shim/fuzz/artifacts/$target" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz.sh: no crash"
