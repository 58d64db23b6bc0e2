#!/usr/bin/env bash
# Builds the benchmarks in Release and runs them all against a private
# tensor-ipcd each starts itself, writing bench/results/copy.json,
# bench/results/latency.json, bench/results/waiters.json and
# bench/results/summary.md (the table, with the issue's targets marked
# pass/miss). About 3 minutes on 2 cores.
#
# Then, when the build has the Python package, bench/python_bench.py writes
# bench/results/python.json and python.md (put/get/view beside numpy.copyto,
# callback latency beside the C++ figure).
#
# Usage: scripts/bench.sh [--build-dir DIR] [--out-dir DIR] [--quick] [--no-build]
#                         [--python-only | --waiters-only | --compare iceoryx]
#   --build-dir DIR  Release build directory (default: build-bench)
#   --out-dir DIR    where results go (default: bench/results)
#   --quick          fewer repetitions and samples (a smoke run of ~1 minute)
#   --no-build       use the binaries already in the build directory
#   --python-only    only the Python benchmark
#   --waiters-only   only tipc_bench_waiters (put after SIGKILLed futex
#                    consumers, ~25 s): waiters.json and waiters.md, and
#                    summary.md again when copy.json and latency.json are there
#   --compare iceoryx  only tipc_bench_iceoryx (tensor-ipc beside iceoryx at
#                    the same sizes and rates, ~3 minutes; needs Debian's
#                    libiceoryx-posh-dev): iceoryx.json and iceoryx.md, and
#                    summary.md again with that section
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$root/build-bench out_dir=$root/bench/results quick=0 build=1
cpp=1 waiters=1 run_python=1 compare=
while (($#)); do
  case "$1" in
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --out-dir) out_dir=${2:?--out-dir needs a directory}; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    --python-only) cpp=0 waiters=0; shift ;;
    --waiters-only) cpp=0 run_python=0; shift ;;
    --compare)
      compare=${2:?--compare needs what to compare with: iceoryx}
      [[ $compare == iceoryx ]] || { echo "bench.sh: --compare iceoryx is the one comparison" >&2; exit 2; }
      cpp=0 waiters=0 run_python=0; shift 2 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if ((build)); then
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  if [[ -n $compare ]]; then
    cmake --build "$build_dir" -j "$(nproc)" --target tipc_bench_iceoryx
  else
    cmake --build "$build_dir" -j "$(nproc)" --target tipc_bench_copy --target tipc_bench_latency \
      --target tipc_bench_waiters
  fi
  if ((run_python)) && ninja -C "$build_dir" -t targets all 2>/dev/null | grep '^tensor_ipc_core:' >/dev/null; then
    cmake --build "$build_dir" -j "$(nproc)" --target tensor_ipc_core
  fi
fi
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build_dir/CMakeCache.txt"; then
  echo "bench.sh: warning: $build_dir is not a Release build" >&2
fi

# Others' work on the machine skews every number: say so.
read -r load _ < /proc/loadavg
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n * 0.5) }'; then
  echo "bench.sh: warning: load average $load on $(nproc) CPUs; results will be noisy" >&2
fi

mkdir -p "$out_dir"
reps=7 samples=2000 fps_seconds=3 waiter_puts=1000 waiter_rounds=5
if ((quick)); then reps=2 samples=500 fps_seconds=1 waiter_puts=500 waiter_rounds=3; fi

if ((waiters)); then
echo "bench.sh: put at 1 kHz before, with and after SIGKILLed futex consumers ($waiter_rounds rounds)" >&2
"$build_dir/bench/tipc_bench_waiters" --puts "$waiter_puts" --rounds "$waiter_rounds" \
  --out "$out_dir/waiters.json"
python3 "$root/bench/summarize.py" --waiters "$out_dir/waiters.json" -o "$out_dir/waiters.md"
echo "bench.sh: wrote $out_dir/waiters.json and waiters.md" >&2
fi
if [[ -n $compare ]]; then
  if [[ ! -x $build_dir/bench/tipc_bench_iceoryx ]]; then
    echo "bench.sh: tipc_bench_iceoryx was not built (apt-get install libiceoryx-posh-dev)" >&2
    exit 1
  fi
  rounds=3 samples=2000 slow_samples=300
  if ((quick)); then rounds=1 samples=300 slow_samples=60; fi
  echo "bench.sh: tensor-ipc beside iceoryx ($rounds interleaved rounds)" >&2
  "$build_dir/bench/tipc_bench_iceoryx" --rounds "$rounds" --samples "$samples" \
    --slow-samples "$slow_samples" --out "$out_dir/iceoryx.json"
  python3 "$root/bench/summarize.py" --iceoryx "$out_dir/iceoryx.json" -o "$out_dir/iceoryx.md"
  echo "bench.sh: wrote $out_dir/iceoryx.json and iceoryx.md" >&2
fi

section_args=()
if [[ -f $out_dir/waiters.json ]]; then section_args=(--waiters "$out_dir/waiters.json"); fi
if [[ -f $out_dir/iceoryx.json ]]; then section_args+=(--iceoryx "$out_dir/iceoryx.json"); fi

if ((cpp)); then
echo "bench.sh: put / get / view vs memcpy ($reps repetitions)" >&2
"$build_dir/bench/tipc_bench_copy" \
  --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$out_dir/copy.json" --benchmark_out_format=json

echo "bench.sh: end-to-end latency ($samples samples per consumer) and fps" >&2
"$build_dir/bench/tipc_bench_latency" --samples "$samples" --fps-seconds "$fps_seconds" \
  --out "$out_dir/latency.json"

python3 "$root/bench/summarize.py" "$out_dir/copy.json" "$out_dir/latency.json" \
  "${section_args[@]}" -o "$out_dir/summary.md"
echo "bench.sh: wrote $out_dir/copy.json, latency.json and summary.md" >&2
cat "$out_dir/summary.md"
elif ((waiters)) || [[ -n $compare ]]; then
  if [[ -f $out_dir/copy.json && -f $out_dir/latency.json ]]; then
    # The other sections keep their own (older) run; each section says its date.
    python3 "$root/bench/summarize.py" "$out_dir/copy.json" "$out_dir/latency.json" \
      "${section_args[@]}" -o "$out_dir/summary.md"
    echo "bench.sh: rewrote $out_dir/summary.md with the new section" >&2
  fi
  if ((waiters)); then cat "$out_dir/waiters.md"; else cat "$out_dir/iceoryx.md"; fi
fi

if ((run_python)) && [[ -f $build_dir/python/build_info.txt ]]; then
  python=$(sed -n 's/^Python3_EXECUTABLE:FILEPATH=//p' "$build_dir/CMakeCache.txt")
  echo "bench.sh: the Python package: put / get / view vs numpy.copyto, callback latency" >&2
  PYTHONPATH="$build_dir/python" "${python:-python3}" "$root/bench/python_bench.py" \
    --daemon "$build_dir/daemon/tensor-ipcd" --cpp-latency "$build_dir/bench/tipc_bench_latency" \
    --out "$out_dir/python.json" --md "$out_dir/python.md" $( ((quick)) && echo --quick)
  echo "bench.sh: wrote $out_dir/python.json and python.md" >&2
fi
