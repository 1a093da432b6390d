#!/usr/bin/env bash
# setup.sh — idempotently install what building and testing containerd-shim-runsc-v1
# needs on Debian 12 (bookworm), from Debian's archive only, and check for cargo.
#
#   containerd runc               containerd 1.6 + ctr + its runc shim (the tests' reference)
#   runsc                         gVisor's runsc CLI (Debian ships no shim for it)
#   busybox-static                the only userland of the offline test image
#   containernetworking-plugins   CNI bridge/host-local for CRI pods (/usr/lib/cni)
#   gcc libc6-dev                 the static pause binary of the CRI sandbox image
#   protobuf-compiler             protoc, for crates that generate protobuf code
#   iproute2 util-linux           ip (CNI bridge cleanup), mount tools
#   ca-certificates               TLS to the crate registry
#
# `apt-get update` runs only when something is missing. Must run as root.
set -euo pipefail

PKGS=(containerd runc runsc busybox-static containernetworking-plugins gcc libc6-dev
      protobuf-compiler iproute2 util-linux ca-certificates)

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: must run as root (containerd and runsc need it)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for cmd in containerd ctr containerd-shim-runc-v2 runc runsc busybox cc protoc ip; do
  command -v "$cmd" >/dev/null || { echo "setup.sh: $cmd missing after install" >&2; exit 1; }
done

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v cargo >/dev/null; then
  echo "setup.sh: cargo not found (looked on PATH and in ${CARGO_HOME:-$HOME/.cargo}/bin)." >&2
  echo "  Install a Rust toolchain >= 1.85 with rustfmt and clippy, e.g. from https://rustup.rs" >&2
  exit 1
fi
echo "setup.sh: ok ($(containerd --version | awk '{print $3}'), $(runsc --version | head -1), $(cargo --version))"
