#!/usr/bin/env bash
# install.sh — installs containerd-shim-runsc-v1 on a node (idempotent):
#   1. the shim binary as <prefix>/bin/containerd-shim-runsc-v1 (on containerd's PATH);
#   2. a documented runsc.toml, only if none exists (an existing one is never touched);
#   3. the `runsc` runtime handler in containerd's config (added or updated, everything
#      else kept; done by the shim's `config-runtime` command);
#   4. with --docker, a runtime `gvisor` in Docker's daemon.json (added or updated,
#      every other key kept; done by the shim's `config-docker` command).
# Then restart containerd (systemctl restart containerd) and run
# `containerd-shim-runsc-v1 check` to verify the node; after step 4 restart dockerd
# (or `systemctl reload docker`) and run `docker run --runtime gvisor ...`.
#
# Options:
#   --prefix DIR       install root (default /usr/local)
#   --config PATH      containerd config (default /etc/containerd/config.toml)
#   --runsc-toml PATH  shim options file (default /etc/containerd/runsc.toml)
#   --binary PATH      the built shim (default: the newest of target/node (scripts/build.sh),
#                      target/release and target/debug)
#   --handler NAME     CRI runtime handler name (default runsc)
#   --docker           also add the runtime to Docker's daemon.json
#   --daemon-json PATH Docker's config (default /etc/docker/daemon.json; implies --docker)
#   --docker-runtime NAME  Docker runtime name (default gvisor; implies --docker)
#   --no-containerd    leave containerd's config alone (step 3), e.g. on a Docker-only host
#   --dry-run          print what would change, change nothing
set -euo pipefail

prefix=/usr/local
config=/etc/containerd/config.toml
runsc_toml=/etc/containerd/runsc.toml
binary=
handler=runsc
docker=0
daemon_json=/etc/docker/daemon.json
docker_runtime=gvisor
containerd=1
dry_run=0

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

while (($#)); do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
    --config) config=${2:?--config needs a value}; shift 2 ;;
    --runsc-toml) runsc_toml=${2:?--runsc-toml needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; shift 2 ;;
    --handler) handler=${2:?--handler needs a value}; shift 2 ;;
    --docker) docker=1; shift ;;
    --daemon-json) daemon_json=${2:?--daemon-json needs a value}; docker=1; shift 2 ;;
    --docker-runtime) docker_runtime=${2:?--docker-runtime needs a value}; docker=1; shift 2 ;;
    --no-containerd) containerd=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z $binary ]]; then
  # The newest of the node, release and debug builds.
  for candidate in "$repo/target/node/containerd-shim-runsc-v1" \
    "$repo/target/release/containerd-shim-runsc-v1" "$repo/target/debug/containerd-shim-runsc-v1"; do
    if [[ -x $candidate && ( -z $binary || $candidate -nt $binary ) ]]; then binary=$candidate; fi
  done
  [[ -n $binary ]] || die "no built shim in $repo/target/{node,release,debug}: run scripts/build.sh or pass --binary"
fi
[[ -x $binary ]] || die "$binary is not an executable file"
[[ $runsc_toml == /* ]] || die "--runsc-toml must be an absolute path (containerd passes it to the shim)"

run() {
  if ((dry_run)); then echo "would run: $*"; else "$@"; fi
}

# 1. The binary. containerd runs runtime_type io.containerd.runsc.v1 as
#    containerd-shim-runsc-v1 from its PATH.
target="$prefix/bin/containerd-shim-runsc-v1"
if [[ -f $target ]] && cmp -s "$binary" "$target"; then
  echo "$target: unchanged"
else
  run install -D -m 0755 "$binary" "$target.new"
  run mv -f "$target.new" "$target"
  ((dry_run)) || echo "$target: installed from $binary"
fi

# 2. runsc.toml, only if absent.
if [[ -e $runsc_toml ]]; then
  echo "$runsc_toml: exists, left as it is"
else
  runsc_bin=$(command -v runsc || echo /usr/bin/runsc)
  if ((dry_run)); then
    echo "would write $runsc_toml (runsc $runsc_bin)"
  else
    mkdir -p "$(dirname "$runsc_toml")"
    cat >"$runsc_toml" <<EOF
# Options of containerd-shim-runsc-v1 (see its README), read through the
# containerd handler's options.ConfigPath. Check with: containerd-shim-runsc-v1 check

# The runsc binary: a path, or a name looked up in PATH.
binary_name = "$runsc_bin"
# runsc state; each pod gets <root>/<namespace>/<pod sandbox id>.
root = "/run/containerd/runsc"
# The shim's log level (error, warn, info, debug, trace); it logs into containerd's log.
log_level = "info"
# An extra copy of the shim's log (%ID% = container id):
# log_path = "/var/log/runsc/%ID%/shim.log"
# Stats format, "v1" or "v2" (default: the host's cgroup mode):
# cgroup_metrics = "v2"
# kubelet's --root-dir, where pod volumes are (for gVisor mount hints):
# kubelet_root = "/var/lib/kubelet"

# Every key is passed to runsc as --key=value.
[runsc_config]
  # ptrace works everywhere; "kvm" is faster where /dev/kvm is usable.
  platform = "ptrace"
  # "sandbox" is gVisor's own netstack (most isolated). "host" is faster but less
  # isolated. runsc 20221219 cannot set up its sandbox network on kernels >= 6.10
  # (gVisor issue 10704): use "none" or "host" there.
  network = "none"
  # To debug an app that fails in gVisor (unsupported syscalls):
  # debug = "true"
  # debug-log = "/var/log/runsc/%ID%/"
EOF
    echo "$runsc_toml: written"
  fi
fi

# 3. The handler in containerd's config.
if ((containerd)); then
  args=(config-runtime --config "$config" --runsc-toml "$runsc_toml" --handler "$handler")
  ((dry_run)) && args+=(--dry-run)
  "$binary" "${args[@]}"
fi

# 4. The runtime in Docker's daemon.json.
if ((docker)); then
  args=(config-docker --daemon-json "$daemon_json" --runsc-toml "$runsc_toml" --runtime "$docker_runtime")
  ((dry_run)) && args+=(--dry-run)
  "$binary" "${args[@]}"
fi

if ((dry_run)); then
  echo "dry run: nothing was changed"
else
  ((containerd)) &&
    echo "done: restart containerd (systemctl restart containerd), then run: $target check --config $config"
  ((docker)) &&
    echo "done: restart dockerd (systemctl restart docker), then: docker run --rm --runtime $docker_runtime busybox cat /proc/version"
  true
fi
