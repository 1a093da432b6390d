#!/usr/bin/env bash
# versions.sh — provide containerd and runsc versions side by side, without
# touching the system's packages: Debian's own packages, fetched with a private
# apt sources list (signed by the installed Debian archive keyring) and unpacked
# with `dpkg -x` into a cache directory per package and version:
#
#   ${RUNSC_SHIM_VERSIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runsc-shim-versions}/<pkg>-<ver>/
#
# Usage: versions.sh [PKG=VER ...]     (default: every version of the matrix)
#   PKG is containerd or runsc; VER an upstream version (1.7.24, 20240729), the
#   Debian version that starts with it (after an optional `0.0~`) is fetched.
#
# Prints one line per version, tab-separated, for scripts to read:
#   containerd <ver> <dir with containerd, ctr, containerd-shim-runc-v2>
#   runsc      <ver> <path of the runsc binary>
# or, when a package cannot be downloaded (offline, gone from the archive):
#   <pkg> <ver> UNAVAILABLE <why>
# Idempotent: a version already unpacked is neither fetched nor unpacked again.
# Exits non-zero only on usage errors; UNAVAILABLE lines are for the caller.
set -euo pipefail

DEFAULT=(containerd=1.6.20 containerd=1.7.24 containerd=2.1.9 runsc=20221219 runsc=20240729)
SUITES=(bookworm bookworm-backports trixie sid)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

cache=${RUNSC_SHIM_VERSIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runsc-shim-versions}
apt_dir=$cache/.apt
mkdir -p "$cache"
# One run at a time per cache: concurrent runs (parallel test jobs) would
# unpack into the same directories. The later run finds the versions complete.
exec 9>"$cache/.lock"
flock 9

wanted=("$@")
((${#wanted[@]})) || wanted=("${DEFAULT[@]}")

apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o Debug::NoLocking=1 -qq
)

# Downloads the private package lists once per run, and only if some version
# is not unpacked yet.
lists_ready=
apt_lists() {
  [[ -n $lists_ready ]] && return "$lists_ready"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  : >"$apt_dir/sources.list"
  for s in "${SUITES[@]}"; do
    echo "deb [signed-by=$KEYRING] $MIRROR $s main" >>"$apt_dir/sources.list"
  done
  if apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1; then
    lists_ready=0
  else
    lists_ready=1
  fi
  return "$lists_ready"
}

# The binary a package version provides: the containerd directory or runsc.
provided() {
  local pkg=$1 dir=$2
  case $pkg in
    containerd) echo "$dir/usr/bin" ;;
    runsc) echo "$dir/usr/bin/runsc" ;;
  esac
}

fetch() {
  local pkg=$1 ver=$2 dir=$cache/$1-$2
  local bin
  bin=$(provided "$pkg" "$dir")
  if [[ -e $dir/.complete ]]; then
    printf '%s\t%s\t%s\n' "$pkg" "$ver" "$bin"
    return
  fi
  if ! apt_lists; then
    printf '%s\t%s\tUNAVAILABLE\tapt-get update failed: %s\n' "$pkg" "$ver" \
      "$(tail -1 "$apt_dir/update.log")"
    return
  fi
  local debver
  debver=$(apt-cache "${apt_opts[@]}" madison "$pkg" |
    awk -F' *[|] *' -v v="$ver" '{ d = $2; sub(/^0\.0~/, "", d) }
      index(d, v) == 1 && substr(d, length(v) + 1, 1) !~ /[0-9]/ { print $2; exit }')
  if [[ -z $debver ]]; then
    printf '%s\t%s\tUNAVAILABLE\tno Debian package %s version %s in %s\n' \
      "$pkg" "$ver" "$pkg" "$ver" "${SUITES[*]}"
    return
  fi
  local tmp
  tmp=$(mktemp -d "$cache/.fetch-XXXXXX")
  if ! (cd "$tmp" && apt-get "${apt_opts[@]}" download "$pkg=$debver") >"$tmp/log" 2>&1; then
    printf '%s\t%s\tUNAVAILABLE\tapt-get download %s=%s failed: %s\n' \
      "$pkg" "$ver" "$pkg" "$debver" "$(tail -1 "$tmp/log")"
    rm -rf "$tmp"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  dpkg -x "$tmp"/*.deb "$dir"
  echo "$debver" >"$dir/.debian-version"
  rm -rf "$tmp"
  if [[ ! -x $bin || ($pkg == containerd && ! -x $bin/containerd) ]]; then
    printf '%s\t%s\tUNAVAILABLE\t%s=%s has no %s\n' "$pkg" "$ver" "$pkg" "$debver" "$bin"
    return
  fi
  touch "$dir/.complete"
  printf '%s\t%s\t%s\n' "$pkg" "$ver" "$bin"
}

for w in "${wanted[@]}"; do
  pkg=${w%%=*} ver=${w#*=}
  case $pkg in
    containerd | runsc) ;;
    *)
      echo "versions.sh: unknown package in $w (containerd=VER or runsc=VER)" >&2
      exit 2
      ;;
  esac
  [[ $ver != "$w" && -n $ver ]] || { echo "versions.sh: $w: no version" >&2; exit 2; }
  fetch "$pkg" "$ver"
done
