#!/usr/bin/env bash
# The Debian packages: built with CPack from this build, installed with dpkg
# into a scratch root (dpkg --root, maintainer scripts run chrootless with
# DPKG_ROOT), then checked as an administrator and a developer would:
#
# - every file lands where Debian puts it, the man pages too;
# - postinst created the user and group tensor-ipc in the root's /etc;
# - the installed unit starts /usr/bin/tensor-ipcd, which is there, and
#   `systemd-analyze verify` of it is silent;
# - the installed tensor-ipcd and tensor-ipc run, and an out-of-tree app
#   builds against the -dev package (find_package and pkg-config) and talks
#   to that daemon;
# - installing again (an upgrade) works, and purging removes every file.
#
#   package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
if [[ $(id -u) -ne 0 ]]; then
  echo "package_test: SKIPPED: dpkg --root into a scratch root needs root"
  exit 77
fi

tmp=$(mktemp -d /tmp/tipc-package-XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "package_test: FAILED: $*" >&2; exit 1; }

echo "== cpack"
cpack --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack"; }
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")/\1/p' "$build/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
debs=()
for pkg in tensor-ipc libtensoripc-client0 libtensoripc-client-dev; do
  deb=$tmp/pkg/${pkg}_${version}-1_${arch}.deb
  [[ -f $deb ]] || { ls "$tmp/pkg"; fail "no $deb"; }
  debs+=("$deb")
  echo "$(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done
# The ROS 2 bridge's package, where the build has the bridge.
ros2_deb=$tmp/pkg/tensor-ipc-ros2_${version}-1_${arch}.deb
if [[ -f $ros2_deb ]]; then
  debs+=("$ros2_deb")
  echo "$(basename "$ros2_deb"): $(dpkg-deb -f "$ros2_deb" Depends)"
fi
dpkg-deb -f "$tmp/pkg/tensor-ipc_${version}-1_${arch}.deb" Depends | grep -q "libtensoripc-client0 (= ${version}-1)" ||
  fail "tensor-ipc does not depend on its own library"

echo "== dpkg --root"
root=$tmp/root
mkdir -p "$root/etc" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
install_debs() {
  # --force-depends: the scratch root has no libc, gRPC, ...; the host's serve.
  dpkg --root="$root" --force-script-chrootless --force-depends -i "${debs[@]}" >"$tmp/dpkg.log" 2>&1 ||
    { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
}
install_debs

for f in usr/bin/tensor-ipcd usr/bin/tensor-ipc usr/lib/systemd/system/tensor-ipcd.service \
         usr/lib/sysusers.d/tensor-ipc.conf usr/lib/tmpfiles.d/tensor-ipc.conf \
         usr/share/doc/tensor-ipc/tensor-ipcd.toml usr/share/man/man8/tensor-ipcd.8.gz \
         usr/share/man/man1/tensor-ipc.1.gz usr/include/tensoripc/tensoripc.h \
         usr/include/tensoripc/daemon.h; do
  [[ -e $root/$f ]] || fail "$f not installed"
done
libdir=$(dirname "$(find "$root/usr/lib" -name 'libtensoripc-client.so.0' | head -1)")
[[ -n $libdir && -e $libdir/libtensoripc-client.so && -e $libdir/pkgconfig/tensoripc-client.pc &&
   -e $libdir/cmake/TensorIpc/TensorIpcConfig.cmake ]] || fail "library, .so link, .pc or CMake package missing"
zcat "$root/usr/share/man/man1/tensor-ipc.1.gz" | grep -q '^\.SH NAME' || fail "tensor-ipc(1) is not a man page"
grep -q '^tensor-ipc:' "$root/etc/passwd" && grep -q '^tensor-ipc:' "$root/etc/group" ||
  fail "postinst did not create the user and group tensor-ipc"
if [[ -f $ros2_deb ]]; then
  [[ -x $root/usr/bin/tensor-ipc-ros2 ]] || fail "tensor-ipc-ros2 not installed"
  grep -q '^ExecStart=/usr/bin/tensor-ipc-ros2 \$BRIDGE_ARGS$' \
    "$root/usr/lib/systemd/system/tensor-ipc-ros2@.service" || fail "the bridge's template unit"
fi
echo "files, man pages, user and group: there"

echo "== the installed unit"
unit=$root/usr/lib/systemd/system/tensor-ipcd.service
grep -q '^ExecStart=/usr/bin/tensor-ipcd ' "$unit" || fail "the unit does not start /usr/bin/tensor-ipcd"
[[ -x $root/usr/bin/tensor-ipcd ]] || fail "/usr/bin/tensor-ipcd is not executable"
# verify resolves ExecStart on this machine; point it into the scratch root.
sed "s#^ExecStart=/usr/bin/#ExecStart=$root/usr/bin/#" "$unit" >"$tmp/tensor-ipcd.service"
status=0
out=$(systemd-analyze verify --man=no "$tmp/tensor-ipcd.service" 2>&1) || status=$?
[[ $status -eq 0 && -z $out ]] || { echo "$out"; fail "systemd-analyze verify (exit $status)"; }
echo "systemd-analyze verify: clean"

echo "== the installed programs"
export LD_LIBRARY_PATH=$libdir
"$root/usr/bin/tensor-ipc" --version | grep -q "tensor-ipc $version" || fail "tensor-ipc --version"
"$root/usr/bin/tensor-ipcd" --version | grep -q "tensor-ipcd $version" || fail "tensor-ipcd --version"
export TENSOR_IPC_SOCKET=$tmp/run/tensor-ipcd.sock
"$root/usr/bin/tensor-ipcd" --socket "$TENSOR_IPC_SOCKET" --shm-prefix "tipcpkg$$." --log-level warn &
daemon_pid=$!
for _ in $(seq 200); do [[ -S $TENSOR_IPC_SOCKET ]] && break; sleep 0.05; done
"$root/usr/bin/tensor-ipc" socket | grep -q "tensor-ipcd $version" || fail "tensor-ipc socket"

echo "== an app built against libtensoripc-client-dev"
cmake -S "$src/tests/client/install_app" -B "$tmp/app" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" \
  >"$tmp/app.log" 2>&1 && cmake --build "$tmp/app" >>"$tmp/app.log" 2>&1 ||
  { cat "$tmp/app.log"; fail "find_package(TensorIpc) build"; }
PKG_CONFIG_PATH=$libdir/pkgconfig
export PKG_CONFIG_PATH
# shellcheck disable=SC2046
c++ -std=c++17 "$src/tests/client/install_app/main.cc" -o "$tmp/app_pc" \
  $(pkg-config --cflags --libs tensoripc-client) || fail "pkg-config build"
"$tmp/app/install_app" package_cmake || fail "the find_package app against the packaged daemon"
"$tmp/app_pc" package_pkgconfig || fail "the pkg-config app against the packaged daemon"
"$root/usr/bin/tensor-ipc" ls | grep -q "package_" || fail "tensor-ipc ls shows no pool of the apps"
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=

echo "== upgrade (the same packages again) and purge"
install_debs
grep -q "Setting up tensor-ipc" "$tmp/dpkg.log" || fail "reinstall"
# An administrator's configuration: the package did not make it, so purge keeps it.
mkdir -p "$root/etc/tensor-ipc"
echo 'max-pools = 8' >"$root/etc/tensor-ipc/tensor-ipcd.toml"
dpkg --root="$root" --force-script-chrootless --force-depends \
  --purge libtensoripc-client-dev tensor-ipc $([[ -f $ros2_deb ]] && echo tensor-ipc-ros2) \
  libtensoripc-client0 >"$tmp/purge.log" 2>&1 ||
  { cat "$tmp/purge.log"; fail "dpkg --purge"; }
grep -qx 'max-pools = 8' "$root/etc/tensor-ipc/tensor-ipcd.toml" ||
  fail "purge removed the administrator's /etc/tensor-ipc/tensor-ipcd.toml"
# The user and group stay (Debian's rule), and so do the lock file of
# /etc/passwd and the administrator's file.
left=$(find "$root" -path "$root/var" -prune -o -type f -print |
       grep -vE "^$root/etc/(passwd|group|shadow|gshadow|\.pwd\.lock)-?$" |
       grep -vx "$root/etc/tensor-ipc/tensor-ipcd.toml" | head -5 || true)
[[ -z $left ]] || fail "files left after purge: $left"
echo "package test passed"
