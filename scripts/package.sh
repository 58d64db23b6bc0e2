#!/usr/bin/env bash
# Builds the Debian packages: a Release build for /usr in build-pkg/ (no
# tests, benchmarks or examples), then CPack. Prints the .deb files.
#
# Usage: scripts/package.sh [--no-deps] [-DVAR=VALUE ...]
#   then: sudo apt install ./build-pkg/tensor-ipc_*.deb ./build-pkg/libtensoripc-client0_*.deb
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=1
args=()
for arg in "$@"; do
  case "$arg" in
    --no-deps) deps=0 ;;
    -D*) args+=("$arg") ;;
    -h|--help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
((deps)) && "$root/scripts/install-deps.sh" --no-npm
"$root/scripts/build.sh" --build-dir "$root/build-pkg" --build-type Release \
  -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF -DTENSORIPC_BENCH=OFF \
  -DTENSORIPC_EXAMPLES=OFF -DTENSORIPC_PYTHON=OFF -DTENSORIPC_ROS2=OFF "${args[@]}" >/dev/null
(cd "$root/build-pkg" && cpack >/dev/null)
ls -1 "$root"/build-pkg/*.deb
