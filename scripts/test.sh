#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest: unit and
# integration tests (the real tensor-ipcd on temporary sockets), the
# reflection test (node, as grpcurl would) and the systemd lint.
#
# Usage: scripts/test.sh [options] [-- CTEST_ARGS...]
#   --sanitize address|thread  run the suite under ASan+UBSan (build-asan/) or TSan (build-tsan/)
#   --build-dir DIR            build directory (default: build, build-asan or build-tsan)
#   --no-deps                  skip scripts/install-deps.sh
#   -DVAR=VALUE                passed to CMake through scripts/build.sh
#   CTEST_ARGS                 e.g. -- -L systemd, or -- -R reflection
# Environment: TENSORIPC_TEST_JOBS (default 2) tests at once; TENSORIPC_TEST_TIMEOUT
# (default 300) seconds for a test that sets no timeout of its own.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_args=() ctest_args=() deps=1 sanitize=""
while (($#)); do
  case "$1" in
    --sanitize) sanitize=${2:?--sanitize needs address or thread}; build_args+=(--sanitize "$2"); shift 2 ;;
    --sanitize=*) sanitize=${1#*=}; build_args+=("$1"); shift ;;
    --build-dir) build_args+=(--build-dir "${2:?--build-dir needs a directory}"); shift 2 ;;
    --build-dir=*) build_args+=("$1"); shift ;;
    --no-deps) deps=0; shift ;;
    -D*) build_args+=("$1"); shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (ctest arguments go after --)" >&2; exit 2 ;;
  esac
done

if ((deps)); then "$root/scripts/install-deps.sh"; fi

build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
"$root/scripts/build.sh" "${build_args[@]}" | tee "$build_log"
build_dir=$(sed -n 's/^build.sh: built in //p' "$build_log" | tail -n 1)

case "$sanitize" in
  address)
    # Leaks, memory errors and undefined behaviour all fail the test that hit them.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ;;
  thread)
    # Debian's gRPC and its libraries are not instrumented: tests/sanitizers/tsan.supp.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp}
    ;;
esac

# A socket a user's own daemon may serve must not leak into tests.
unset TENSOR_IPC_SOCKET NOTIFY_SOCKET

cd "$build_dir"
exec ctest --output-on-failure --no-tests=error \
  -j "${TENSORIPC_TEST_JOBS:-2}" --timeout "${TENSORIPC_TEST_TIMEOUT:-300}" \
  "${ctest_args[@]}"
