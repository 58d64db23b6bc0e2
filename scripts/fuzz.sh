#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs
# each for a bounded time from its committed seed corpus (fuzz/corpus/<t>/).
# New inputs go to a scratch directory, not the repository; a crash, a
# sanitizer report or a broken invariant fails the run, and the input that
# did it is kept in build-fuzz/findings/ (with the command to replay it).
#
# Usage: scripts/fuzz.sh [--seconds N] [--target T]... [--seed]
#   --seconds N   per target (default 60)
#   --target T    fuzz_claim, fuzz_wire or fuzz_segment_header (default: all)
#   --seed        rewrite make_corpus's seeds in fuzz/corpus/ (then commit them)
# By hand, give a fuzzer a scratch directory first: libFuzzer writes what it
# finds into the first directory it is given, and the repository keeps seeds
# and the inputs of fixed findings (regression_*) only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=60 targets=() seed=0
while (($#)); do
  case "$1" in
    --seconds) seconds=${2:?}; shift 2 ;;
    --target) targets+=("${2:?}"); shift 2 ;;
    --seed) seed=1; shift ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_claim fuzz_wire fuzz_segment_header)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 1; }

build=$root/build-fuzz
target_args=(--target make_corpus)
for t in "${targets[@]}"; do target_args+=(--target "$t"); done
CC=clang CXX=clang++ "$root/scripts/build.sh" --build-dir "$build" --build-type RelWithDebInfo \
  -DTENSORIPC_FUZZ=ON -DTENSORIPC_CUDA=OFF -DTENSORIPC_PYTHON=OFF -DTENSORIPC_ROS2=OFF \
  -DBUILD_TESTING=OFF -DTENSORIPC_BENCH=OFF -DTENSORIPC_EXAMPLES=OFF \
  "${target_args[@]}" >/dev/null
if ((seed)); then
  # make_corpus rewrites its own files; inputs kept for a finding (regression_*) stay.
  for t in fuzz_claim fuzz_wire fuzz_segment_header; do mkdir -p "$root/fuzz/corpus/$t"; done
  ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/make_corpus" "$root/fuzz/corpus"
  echo "fuzz.sh: seed corpus written to fuzz/corpus/"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  work=$(mktemp -d "/tmp/tipc-$t.XXXXXX")
  log=$build/findings/$t.log
  echo "== $t: ${seconds} s from fuzz/corpus/$t ($(ls "$root/fuzz/corpus/$t" | wc -l) seeds)"
  if "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
       -print_final_stats=1 -artifact_prefix="$build/findings/$t-" \
       "$work" "$root/fuzz/corpus/$t" >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov: " "$log" | tail -3
    echo "   $(ls "$work" | wc -l) new inputs found (discarded with the scratch directory)"
  else
    status=1
    tail -40 "$log"
    echo "fuzz.sh: $t FAILED; the input is in $build/findings/ (replay: $build/fuzz/$t FILE)" >&2
  fi
  rm -rf "$work"
done
exit $status
