#!/usr/bin/env bash
# matrix.sh — the compatibility matrix: the e2e smoke subset (lifecycle, exec,
# pods through CRI) on every containerd × runsc pair other than the system's
# default one (whose full suite test.sh runs), the full suite on the pairs of
# MATRIX_FULL_PAIRS, with the versions from
# scripts/versions.sh selected through the harness's E2E_CONTAINERD and
# E2E_RUNSC. A pair whose packages cannot be downloaded is skipped with a
# message. Writes the results to integration/compat.md and into the README
# section between the compat-matrix markers.
#
#   MATRIX_DEFAULT_RESULT=pass|fail   the default pair's full-suite result (test.sh
#                                     sets it); unset: the default pair runs the smoke
#                                     subset like the others
#   MATRIX_PAIRS="1.7.24/20221219 ..."   only these pairs (containerd/runsc)
#   MATRIX_FULL_PAIRS="1.6.20/20240729"   pairs that run the full e2e suite instead
#                                     of the smoke subset (default: Debian 12's
#                                     containerd with the newer runsc)
#   MATRIX_ADVISORY_RUNSC="20240729"   runsc versions whose failures are reported
#                                     but do not fail the run (default: none)
#
# Run as root, after `cargo build --workspace --all-targets`. Exits non-zero if
# any pair failed, advisory ones aside.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

CONTAINERDS=(1.6.20 1.7.24 2.1.9)
RUNSCS=(20221219 20240729)
SMOKE=(--test lifecycle --test exec --test pods)
read -r -a full_pairs <<<"${MATRIX_FULL_PAIRS-1.6.20/20240729}"
OUT=integration/compat.md

declare -A bin
while IFS=$'\t' read -r pkg ver path why; do
  if [[ $path == UNAVAILABLE ]]; then
    bin[$pkg-$ver]=
    echo "matrix.sh: $pkg $ver cannot be downloaded: $why"
  else
    bin[$pkg-$ver]=$path
  fi
done < <(bash scripts/versions.sh \
  "${CONTAINERDS[@]/#/containerd=}" "${RUNSCS[@]/#/runsc=}")

system_containerd=$(containerd --version 2>/dev/null | awk '{print $3}' | sed 's/[~+].*//')
system_runsc=$(runsc --version 2>/dev/null | awk 'NR==1 {print $3}' | sed 's/^0\.0~//; s/\..*//')

pairs=()
if [[ -n ${MATRIX_PAIRS:-} ]]; then
  read -r -a pairs <<<"$MATRIX_PAIRS"
else
  for c in "${CONTAINERDS[@]}"; do
    for r in "${RUNSCS[@]}"; do pairs+=("$c/$r"); done
  done
fi

advisory=" ${MATRIX_ADVISORY_RUNSC-} "
rows=()
failed=0
start_all=$SECONDS
for pair in "${pairs[@]}"; do
  c=${pair%/*} r=${pair#*/}
  if [[ $c == "$system_containerd" && $r == "$system_runsc" && -n ${MATRIX_DEFAULT_RESULT:-} ]]; then
    rows+=("| $c | $r | full suite (system packages) | $MATRIX_DEFAULT_RESULT | |")
    continue
  fi
  cdir=${bin[containerd-$c]-} rbin=${bin[runsc-$r]-}
  if [[ -z $cdir || -z $rbin ]]; then
    echo "matrix.sh: SKIP containerd $c / runsc $r: packages cannot be downloaded"
    rows+=("| $c | $r | smoke | skipped (packages unavailable) | |")
    continue
  fi
  tests=("${SMOKE[@]}") kind=smoke
  if [[ " ${full_pairs[*]} " == *" $pair "* ]]; then
    tests=() kind="full suite"
  fi
  printf '\n==> matrix: containerd %s / runsc %s (%s)\n' "$c" "$r" "$kind"
  log=$(mktemp)
  t0=$SECONDS
  result=pass
  E2E_CONTAINERD=$cdir E2E_RUNSC=$rbin CI=${CI:-1} \
    cargo test -p e2e ${tests[@]+"${tests[@]}"} --no-fail-fast 2>&1 | tee "$log" | grep -E '^test |test result' ||
    result=fail
  # Also a failed test binary fails the pipeline's cargo.
  grep -q 'test result: FAILED\|error: test failed\|error\[' "$log" && result=fail
  if [[ $result == fail ]]; then
    if [[ $advisory == *" $r "* ]]; then
      result="fail (advisory)"
    else
      failed=1
    fi
  fi
  # What failed and why, for the CI log.
  grep -A6 'panicked at' "$log" || true
  passed=$(awk '/^test result:/ {p += $4} END {print p + 0}' "$log")
  nfailed=$(awk '/^test result:/ {f += $6} END {print f + 0}' "$log")
  failures=$(grep -E '^test .* FAILED$' "$log" | awk '{print $2}' | sort -u | paste -sd, - || true)
  rm -f "$log"
  note="$passed passed, $nfailed failed, $((SECONDS - t0)) s"
  [[ -n $failures ]] && note="$note; failed: ${failures//,/, }"
  rows+=("| $c | $r | $kind | $result | $note |")
done

{
  echo "Tested by \`scripts/matrix.sh\` on $(date -u +%Y-%m-%d) ($(uname -r), $(($SECONDS - start_all)) s):"
  echo "containerd and runsc from Debian's packages (\`scripts/versions.sh\`), the shim"
  echo "built from $(git rev-parse --short HEAD). Smoke = \`cargo test -p e2e ${SMOKE[*]}\`"
  echo "(lifecycle, exec, pods through CRI incl. stop/remove without leaks); full suite ="
  echo "\`cargo test -p e2e\`."
  echo
  echo "| containerd | runsc | tests | result | notes |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$OUT"
cat "$OUT"

# The README's copy, between the markers (left alone if they are missing).
if grep -q '<!-- compat-matrix:begin -->' README.md; then
  awk -v f="$OUT" '
    /<!-- compat-matrix:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- compat-matrix:end -->/ { skip = 0 }
    !skip' README.md >README.md.tmp && mv README.md.tmp README.md
fi
exit "$failed"
