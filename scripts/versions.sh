#!/usr/bin/env bash
# versions.sh — provide containerd, runsc and Docker versions side by side, without
# touching the system's packages: Debian's own packages, fetched with a private
# apt sources list (signed by the installed Debian archive keyring) and unpacked
# with `dpkg -x` into a cache directory per package and version:
#
#   ${RUNSC_SHIM_VERSIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runsc-shim-versions}/<pkg>-<ver>/
#
# Usage: versions.sh [PKG=VER ...]     (default: every version of the matrix)
#   PKG is containerd, runsc or docker; VER an upstream version (1.7.24,
#   20240729, 28.5.2), the Debian version that starts with it (after an
#   optional `0.0~`) is fetched, from the earliest of SUITES that has it. docker is Debian's docker.io (dockerd) and
#   docker-cli (docker) of that version, unpacked into one directory; it is
#   not in the default list (the matrix does not use it), only fetched when asked.
#
# Prints one line per version, tab-separated, for scripts to read:
#   containerd <ver> <dir with containerd, ctr, containerd-shim-runc-v2>
#   runsc      <ver> <path of the runsc binary>
#   docker     <ver> <dir with dockerd and docker>
# or, when a package cannot be downloaded (offline, gone from the archive):
#   <pkg> <ver> UNAVAILABLE <why>
# Idempotent: a version already unpacked is neither fetched nor unpacked again.
# Exits non-zero only on usage errors; UNAVAILABLE lines are for the caller.
set -euo pipefail

DEFAULT=(containerd=1.6.20 containerd=1.7.24 containerd=2.1.9 runsc=20221219 runsc=20240729)
SUITES=(bookworm bookworm-backports trixie sid)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Marks an unpacked version as complete; renamed when the choice of build
# changes (2: the earliest suite's build), so that older caches are refetched.
COMPLETE=.complete-2

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
  # apt-get update exits 0 when it could fetch nothing (offline): it only warns.
  if apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 &&
    compgen -G "$apt_dir/lists/*_Packages*" >/dev/null; then
    lists_ready=0
  else
    lists_ready=1
  fi
  return "$lists_ready"
}

# The Debian packages of PKG; the first one's versions are looked up.
debs() {
  case $1 in
    docker) echo docker.io docker-cli ;;
    *) echo "$1" ;;
  esac
}

# What a package version provides: the containerd directory, runsc, or the
# docker directory (links to usr/sbin's dockerd and usr/bin's docker).
provided() {
  local pkg=$1 dir=$2
  case $pkg in
    containerd) echo "$dir/usr/bin" ;;
    runsc) echo "$dir/usr/bin/runsc" ;;
    docker) echo "$dir/bin" ;;
  esac
}

# The executables PKG must provide in the directory `provided` prints, one a line.
required() {
  case $1 in
    containerd) echo containerd ;;
    docker) printf '%s\n' dockerd docker ;;
  esac
}

fetch() {
  local pkg=$1 ver=$2 dir=$cache/$1-$2
  local bin
  bin=$(provided "$pkg" "$dir")
  if [[ -e $dir/$COMPLETE ]]; then
    printf '%s\t%s\t%s\n' "$pkg" "$ver" "$bin"
    return
  fi
  if ! apt_lists; then
    printf '%s\t%s\tUNAVAILABLE\tapt-get update failed: %s\n' "$pkg" "$ver" \
      "$(grep -m1 'Failed to fetch' "$apt_dir/update.log" || tail -1 "$apt_dir/update.log")"
    return
  fi
  local -a debs
  read -r -a debs <<<"$(debs "$pkg")"
  local debver
  # Of the builds of that version, the one of the earliest suite in SUITES:
  # the build for Debian 12, made with its toolchain (sid's rebuild of runsc
  # 20240729 with Go 1.26 panics in the sentry; bookworm-backports' with Go
  # 1.22 works).
  debver=$(apt-cache "${apt_opts[@]}" madison "${debs[0]}" |
    awk -F' *[|] *' -v v="$ver" -v suites="${SUITES[*]}" '
      BEGIN { n = split(suites, order, " "); for (i = 1; i <= n; i++) rank[order[i]] = i }
      { d = $2; sub(/^0\.0~/, "", d); split($3, w, " "); s = w[2]; sub(/\/.*/, "", s); r = rank[s] }
      index(d, v) == 1 && substr(d, length(v) + 1, 1) !~ /[0-9]/ && (best == "" || r < best_rank) {
        best = $2; best_rank = r
      }
      END { if (best != "") print best }')
  if [[ -z $debver ]]; then
    printf '%s\t%s\tUNAVAILABLE\tno Debian package %s version %s in %s\n' \
      "$pkg" "$ver" "${debs[0]}" "$ver" "${SUITES[*]}"
    return
  fi
  local tmp
  tmp=$(mktemp -d "$cache/.fetch-XXXXXX")
  if ! (cd "$tmp" && apt-get "${apt_opts[@]}" download "${debs[@]/%/=$debver}") >"$tmp/log" 2>&1; then
    printf '%s\t%s\tUNAVAILABLE\tapt-get download %s failed: %s\n' \
      "$pkg" "$ver" "${debs[*]/%/=$debver}" "$(tail -1 "$tmp/log")"
    rm -rf "$tmp"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local deb
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dir"; done
  echo "$debver" >"$dir/.debian-version"
  rm -rf "$tmp"
  if [[ $pkg == docker ]]; then
    # dockerd, docker-proxy, docker and docker-init in one directory.
    mkdir -p "$bin"
    local exe
    for exe in "$dir"/usr/sbin/* "$dir"/usr/bin/*; do
      ln -sfn "../${exe#"$dir"/}" "$bin/${exe##*/}"
    done
  fi
  local path
  for path in "$bin" $(required "$pkg" | sed "s|^|$bin/|"); do
    if [[ ! -x $path ]]; then
      printf '%s\t%s\tUNAVAILABLE\t%s=%s has no %s\n' "$pkg" "$ver" "$pkg" "$debver" "$path"
      return
    fi
  done
  touch "$dir/$COMPLETE"
  printf '%s\t%s\t%s\n' "$pkg" "$ver" "$bin"
}

for w in "${wanted[@]}"; do
  pkg=${w%%=*} ver=${w#*=}
  case $pkg in
    containerd | runsc | docker) ;;
    *)
      echo "versions.sh: unknown package in $w (containerd=VER, runsc=VER or docker=VER)" >&2
      exit 2
      ;;
  esac
  [[ $ver != "$w" && -n $ver ]] || { echo "versions.sh: $w: no version" >&2; exit 2; }
  fetch "$pkg" "$ver"
done
