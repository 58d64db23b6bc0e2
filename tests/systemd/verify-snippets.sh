#!/usr/bin/env bash
# Applies systemd/tensor-ipc.sysusers.conf and tensor-ipc.tmpfiles.conf to an
# empty root directory and checks what they make: the tensor-ipc user and
# group, /run/tensor-ipc owned by them, /etc/tensor-ipc. Fails on any
# diagnostic from systemd-tmpfiles, and on any from systemd-sysusers other
# than its "Creating ..." notices.
#
# Usage: verify-snippets.sh SYSUSERS_CONF TMPFILES_CONF
set -euo pipefail
sysusers=$(realpath "$1") tmpfiles=$(realpath "$2")  # --root resolves relative paths inside it
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc"
touch "$root"/etc/{passwd,group,shadow,gshadow}

status=0
out=$(systemd-sysusers --root="$root" "$sysusers" 2>&1) || status=$?
if [[ $status -ne 0 ]] || grep -v '^Creating ' <<<"$out" | grep -q .; then
  echo "systemd-sysusers printed:" >&2; echo "$out" >&2; exit 1
fi
grep -q '^tensor-ipc:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$root/etc/passwd" ||
  { echo "no tensor-ipc user made:" >&2; cat "$root/etc/passwd" >&2; exit 1; }
grep -q '^tensor-ipc:x:[0-9]*:$' "$root/etc/group" ||
  { echo "no tensor-ipc group made:" >&2; cat "$root/etc/group" >&2; exit 1; }
uid=$(awk -F: '$1 == "tensor-ipc" {print $3}' "$root/etc/passwd")

status=0
out=$(systemd-tmpfiles --create --root="$root" "$tmpfiles" 2>&1) || status=$?
if [[ $status -ne 0 || -n "$out" ]]; then echo "systemd-tmpfiles printed:" >&2; echo "$out" >&2; exit 1; fi
[[ "$(stat -c '%a %u' "$root/run/tensor-ipc")" == "755 $uid" ]] ||
  { echo "/run/tensor-ipc: $(stat -c '%a %u' "$root/run/tensor-ipc"), expected 755 $uid" >&2; exit 1; }
[[ -d "$root/etc/tensor-ipc" ]] || { echo "/etc/tensor-ipc not made" >&2; exit 1; }
echo "sysusers.d and tmpfiles.d snippets: clean"
