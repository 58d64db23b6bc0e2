#!/usr/bin/env bash
# Installs everything tensor-ipc needs to build and test on Debian 12:
# the Debian packages below, and the pinned npm packages of the reflection
# test (tests/reflection/node_modules) and the ROS 2 golden-bytes test
# (tests/ros2/golden/node_modules).
#
# Idempotent and fast when nothing is missing: it asks dpkg first and runs
# apt-get only for what is not installed. Runs as root (CI) or through sudo.
#
# Usage: scripts/install-deps.sh [--no-npm]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

with_npm=1
for arg in "$@"; do
  case "$arg" in
    --no-npm) with_npm=0 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git
  # gRPC and protobuf (gRPC's CMake config also needs OpenSSL and zlib headers)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libssl-dev zlib1g-dev
  # daemon: logging, flags and config, sd_notify
  libspdlog-dev libcli11-dev libsystemd-dev
  # the tensor-ipc command: PNG snapshots
  libpng-dev
  # the Debian packages (cpack -G DEB): man pages, shared-library dependencies
  help2man dpkg-dev fakeroot
  # scripts/fuzz.sh: clang and its libFuzzer runtime
  clang libclang-rt-14-dev
  # tests/ros2: tshark decodes the bridge's RTPS (no setuid capture helper: the
  # default answer when installing non-interactively)
  tshark
  # tests/ros2: network namespaces for two hosts on one machine, and a private loopback
  iproute2
  # client: DLPack export; Python bindings
  libdlpack-dev pybind11-dev python3-dev python3-numpy python3-pytest
  # the Python package's torch backend and its tests; pip install into a venv, offline
  python3-torch python3-venv python3-pip python3-setuptools python3-wheel
  # the ROS 2 bridge (ros2/): Cyclone DDS, and idlc, which is in the tools package
  cyclonedds-dev cyclonedds-tools
  # tests/ros2: a second DDS vendor, Fast DDS (the default rmw of ROS 2 Humble and Jazzy)
  libfastrtps-dev
  # tests and benchmarks (iceoryx: tipc_bench_iceoryx, the side-by-side comparison)
  libgtest-dev libgmock-dev libbenchmark-dev libiceoryx-posh-dev
  # systemd-analyze, systemd-sysusers and systemd-tmpfiles lint systemd/
  systemd
  # tests/systemd is Python (standard library only)
  python3
)

missing=()
for pkg in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]]; then
    missing+=("$pkg")
  fi
done
# Node.js for the reflection test: any node >= 18 with npm will do (Debian's
# nodejs/npm, or one that came with the machine); install Debian's only when
# there is none, so as not to fight a newer one.
if ! command -v node >/dev/null; then missing+=(nodejs); fi
if ! command -v npm >/dev/null; then missing+=(npm); fi

if ((${#missing[@]} > 0)); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps.sh: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

if ((with_npm)); then
  # A failure here does not stop a build; the reflection test then fails and
  # says why.
  if ! "$root/tests/reflection/npm-install.sh"; then
    echo "install-deps.sh: WARNING: the reflection test's npm packages are missing;" \
         "tests/reflection will fail until tests/reflection/npm-install.sh succeeds" >&2
  fi
  if ! "$root/tests/ros2/golden/npm-install.sh"; then
    echo "install-deps.sh: WARNING: the ROS 2 golden-bytes test's npm packages are missing;" \
         "ros2.golden_cdr will fail until tests/ros2/golden/npm-install.sh succeeds" >&2
  fi
fi
