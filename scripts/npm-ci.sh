#!/usr/bin/env bash
# Installs the pinned npm packages of one test folder (its package-lock.json)
# into DIR/node_modules: the reflection test's and the ROS 2 golden-bytes
# test's. A no-op when they are already there and up to date. Fails loudly
# (exit 1) when node, npm or the registry is missing.
#   scripts/npm-ci.sh DIR
set -euo pipefail
dir=${1:?usage: npm-ci.sh DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$dir"
name=${PWD#"$root"/}

stamp=node_modules/.package-lock.json   # written by npm at the end of an install
if [[ -f "$stamp" && "$stamp" -nt package-lock.json && "$stamp" -nt package.json ]]; then
  exit 0
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "$name: '$tool' is not installed; run scripts/install-deps.sh" >&2
    exit 1
  fi
done
echo "$name: npm ci (the pinned packages of $name/package-lock.json)"
# --ignore-scripts: none of these packages needs an install script to work.
if ! npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; then
  echo "$name: 'npm ci' failed: is the npm registry reachable?" \
       "Its tests cannot run without these packages." >&2
  exit 1
fi
