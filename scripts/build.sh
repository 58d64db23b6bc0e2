#!/usr/bin/env bash
# Configures (CMake + Ninja; ccache is used when installed) and builds tensor-ipc.
#
# Usage: scripts/build.sh [options] [-DVAR=VALUE ...]
#   --sanitize address|thread  ASan+UBSan or TSan build (default dir build-asan / build-tsan)
#   --build-dir DIR            build directory (default: build, next to this script's parent)
#   --build-type TYPE          CMAKE_BUILD_TYPE (default RelWithDebInfo)
#   --target T                 build only T (repeatable; default: everything)
#   -j N, --jobs N             parallel jobs (default: the number of CPUs)
#   -DVAR=VALUE                passed to CMake, e.g. -DTENSORIPC_CUDA=OFF -DTENSORIPC_PYTHON=ON
# Its last line is "build.sh: built in DIR". An existing build directory is
# not configured again unless options are given (CMake re-runs itself when a
# CMakeLists.txt changes).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize="" build_dir="" build_type="" jobs=$(nproc)
targets=() cmake_args=()

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --sanitize) sanitize=${2:?--sanitize needs address or thread}; shift 2 ;;
    --sanitize=*) sanitize=${1#*=}; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --build-type) build_type=${2:?--build-type needs a type}; shift 2 ;;
    --build-type=*) build_type=${1#*=}; shift ;;
    --target) targets+=("${2:?--target needs a target}"); shift 2 ;;
    -j|--jobs) jobs=${2:?$1 needs a number}; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    -D*) cmake_args+=("$1"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

case "$sanitize" in
  "") default_dir=build ;;
  address) default_dir=build-asan ;;
  thread) default_dir=build-tsan ;;
  *) echo "build.sh: --sanitize takes address or thread, not '$sanitize'" >&2; exit 2 ;;
esac
build_dir=${build_dir:-$root/$default_dir}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)

for tool in cmake ninja; do
  command -v "$tool" >/dev/null ||
    { echo "build.sh: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done
if [[ -f "$build_dir/CMakeCache.txt" ]] &&
   ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build_dir/CMakeCache.txt"; then
  echo "build.sh: $build_dir was configured with another generator; remove it or pick" \
       "another --build-dir" >&2
  exit 1
fi

cached() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" 2>/dev/null; }
if [[ -f "$build_dir/CMakeCache.txt" && -f "$build_dir/build.ninja" && ${#cmake_args[@]} -eq 0 &&
      "$(cached TENSORIPC_SANITIZE)" == "$sanitize" &&
      ( -z "$build_type" || "$(cached CMAKE_BUILD_TYPE)" == "$build_type" ) ]]; then
  :  # configured already, the same way
else
  cmake -S "$root" -B "$build_dir" -G Ninja \
    -DTENSORIPC_SANITIZE="$sanitize" \
    ${build_type:+-DCMAKE_BUILD_TYPE="$build_type"} \
    "${cmake_args[@]}"
fi
cmake --build "$build_dir" --parallel "$jobs" ${targets[@]:+--target "${targets[@]}"}
echo "build.sh: built in $build_dir"
