#!/bin/bash
# The out-of-tree install test: installs the client and dev components of a build
# into a temporary prefix, builds tests/client/install_app against it twice
# (find_package(TensorIpc), and plain pkg-config with no CMake), and runs
# both against a real tensor-ipcd.
#
#   install_test.sh <build dir> <install_app source dir> <tensor-ipcd> [extra CXXFLAGS]
set -euo pipefail
build=$1
app_src=$2
daemon=$3
extra_flags=${4:-}

tmp=$(mktemp -d /tmp/tipc-install-XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -f /dev/shm/tipci$$.* 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

prefix=$tmp/prefix
echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" --component client
cmake --install "$build" --prefix "$prefix" --component dev
find "$prefix" -type f -o -type l | sed "s|$prefix/||" | sort

# Only the public API is installed: no protobuf/gRPC types, no internals.
if grep -rnE "#include.*(grpc|google/protobuf|\.pb\.h)|v1::|common/" "$prefix/include"; then
  echo "public headers mention gRPC/protobuf"; exit 1
fi

echo "== find_package(TensorIpc) build"
cmake -S "$app_src" -B "$tmp/app" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="$extra_flags" -DCMAKE_EXE_LINKER_FLAGS="$extra_flags"
cmake --build "$tmp/app"

echo "== pkg-config build"
pc_dir=$(dirname "$(find "$prefix" -name tensoripc-client.pc)")
export PKG_CONFIG_PATH=$pc_dir
libdir=$(pkg-config --variable=libdir tensoripc-client)
# shellcheck disable=SC2046
c++ -std=c++17 $extra_flags "$app_src/main.cc" -o "$tmp/app_pc" \
  $(pkg-config --cflags --libs tensoripc-client) -Wl,-rpath,"$libdir"

echo "== run against a real tensor-ipcd"
"$daemon" --socket "$tmp/d.sock" --shm-prefix "tipci$$." --log-level warn &
daemon_pid=$!
for _ in $(seq 200); do [[ -S $tmp/d.sock ]] && break; sleep 0.05; done
export TENSOR_IPC_SOCKET=$tmp/d.sock
"$tmp/app/install_app" install_cmake
"$tmp/app_pc" install_pkgconfig
echo "install test passed"
