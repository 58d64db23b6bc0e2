#!/usr/bin/env bash
# Lints systemd/tensor-ipc-ros2@.service as an instance (tensor-ipc-ros2@camera)
# with `systemd-analyze verify`, its ExecStart pointed at the built bridge;
# any output fails. Also checks that it orders itself after tensor-ipcd and
# reads its arguments from /etc/tensor-ipc/ros2/<instance>.conf.
#
# Usage: verify-bridge-unit.sh UNIT_FILE BRIDGE_BINARY
set -euo pipefail
unit=$1 bridge=$2
[[ -x $bridge ]] || { echo "no bridge binary at $bridge" >&2; exit 1; }
grep -q '^After=tensor-ipcd.service' "$unit" || { echo "$unit: not After=tensor-ipcd.service" >&2; exit 1; }
grep -q '^EnvironmentFile=/etc/tensor-ipc/ros2/%i.conf$' "$unit" ||
  { echo "$unit: arguments not from /etc/tensor-ipc/ros2/%i.conf" >&2; exit 1; }
grep -q '^ExecStart=/usr/local/bin/tensor-ipc-ros2 \$BRIDGE_ARGS$' "$unit" ||
  { echo "$unit: ExecStart= does not run /usr/local/bin/tensor-ipc-ros2 \$BRIDGE_ARGS" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=/usr/local/bin/tensor-ipc-ros2 #ExecStart=$bridge #" "$unit" \
  >"$tmp/tensor-ipc-ros2@.service"
cp "$tmp/tensor-ipc-ros2@.service" "$tmp/tensor-ipc-ros2@camera.service"
status=0
out=$(cd "$tmp" && systemd-analyze verify --man=no tensor-ipc-ros2@camera.service 2>&1) || status=$?
if [[ $status -ne 0 || -n $out ]]; then
  echo "systemd-analyze verify (exit $status) printed:" >&2
  echo "$out" >&2
  exit 1
fi
echo "systemd-analyze verify tensor-ipc-ros2@camera: clean"
