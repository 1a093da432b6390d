#!/usr/bin/env bash
# build.sh — the shim binary for nodes: a release build linked statically
# against glibc and not position-independent, so that the daemon maps no
# libc.so, libm.so or ld.so and applies no relocations at start (about 2 MB
# less resident memory per shim than a default `cargo build --release`).
# Writes target/node/containerd-shim-runsc-v1 and prints its path; install.sh
# and the benchmark pick it up from there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# With an explicit --target these flags apply to the binary only, not to the
# build scripts and proc macros (which cannot be linked statically).
triple=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static ${RUSTFLAGS:-}" \
  cargo build --release --locked --target "$triple" \
  -p containerd-shim-runsc-v1 --bin containerd-shim-runsc-v1 >&2
out=target/node/containerd-shim-runsc-v1
mkdir -p target/node
cp "target/$triple/release/containerd-shim-runsc-v1" "$out.new"
mv "$out.new" "$out"
if ldd "$out" >/dev/null 2>&1; then
  echo "build.sh: $out is dynamically linked" >&2
  exit 1
fi
echo "$out"
