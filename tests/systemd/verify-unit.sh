#!/usr/bin/env bash
# Lints systemd/tensor-ipcd.service with `systemd-analyze verify`, with its
# ExecStart binary pointed at the freshly built daemon so that verify can
# find it. systemd-analyze only warns (exit 0) on unknown keys and bad values,
# so ANY output fails this test. Also holds the unit's hardening to an
# exposure score of 2.0 or better (`systemd-analyze security`), and its
# RuntimeDirectoryMode= to one the daemon accepts for its socket directory.
#
# Usage: verify-unit.sh UNIT_FILE DAEMON_BINARY
set -euo pipefail
unit=$1 daemon=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (package systemd)" >&2; exit 1; }
[[ -x "$daemon" ]] || { echo "no daemon binary at $daemon" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -q '^ExecStart=/usr/local/bin/tensor-ipcd ' "$unit" ||
  { echo "$unit: ExecStart= does not start /usr/local/bin/tensor-ipcd" >&2; exit 1; }
runtime_mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
[[ "$runtime_mode" =~ ^[0-7]+$ ]] && (( (8#$runtime_mode & 8#022) == 0 )) ||
  { echo "$unit: RuntimeDirectoryMode=$runtime_mode: tensor-ipcd refuses a socket directory" \
         "that group or others can write to" >&2; exit 1; }
sed "s#^ExecStart=/usr/local/bin/tensor-ipcd #ExecStart=$daemon #" "$unit" > "$tmp/tensor-ipcd.service"

status=0
out=$(systemd-analyze verify --man=no "$tmp/tensor-ipcd.service" 2>&1) || status=$?
if [[ $status -ne 0 || -n "$out" ]]; then
  echo "systemd-analyze verify (exit $status) printed:" >&2
  echo "$out" >&2
  exit 1
fi
echo "systemd-analyze verify: clean"

status=0
out=$(systemd-analyze security --offline=true --threshold=20 "$tmp/tensor-ipcd.service" 2>&1) || status=$?
echo "$out" | tail -n 1
if [[ $status -ne 0 ]]; then
  echo "$out" >&2
  echo "exposure above 2.0: the unit's hardening got weaker" >&2
  exit 1
fi
