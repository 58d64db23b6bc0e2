#!/usr/bin/env bash
# `cmake --install BUILD --prefix X` of the service: the installed unit starts
# X/bin/tensor-ipcd (not the configure-time prefix), and `systemd-analyze
# verify` of the installed unit, with that binary really there, is silent.
#
# Usage: install-unit.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/tipc-unit-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/some/prefix
cmake --install "$build" --prefix "$prefix" --component service >/dev/null
unit=$prefix/lib/systemd/system/tensor-ipcd.service
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[[ $exec_start == "$prefix/bin/tensor-ipcd" ]] ||
  { echo "installed unit starts '$exec_start', not $prefix/bin/tensor-ipcd" >&2; exit 1; }
[[ -x $exec_start ]] || { echo "$exec_start was not installed" >&2; exit 1; }
grep -q "^Documentation=file:$prefix/share/doc/tensor-ipc/README.md" "$unit" ||
  { echo "Documentation= does not name $prefix/share/doc/tensor-ipc/README.md" >&2; exit 1; }
[[ -x $prefix/bin/tensor-ipc ]] || { echo "the tensor-ipc command was not installed" >&2; exit 1; }
status=0
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || status=$?
if [[ $status -ne 0 || -n $out ]]; then
  echo "systemd-analyze verify of the installed unit (exit $status):" >&2
  echo "$out" >&2
  exit 1
fi
echo "installed unit: ExecStart=$exec_start; systemd-analyze verify: clean"
