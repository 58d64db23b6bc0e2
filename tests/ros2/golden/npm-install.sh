#!/usr/bin/env bash
# Installs the pinned npm packages of the reflection test (package-lock.json)
# into tests/ros2/golden/node_modules. A no-op when they are already there and
# up to date. Fails loudly (exit 1) when node, npm or the registry is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stamp=node_modules/.package-lock.json   # written by npm at the end of an install
if [[ -f "$stamp" && "$stamp" -nt package-lock.json && "$stamp" -nt package.json ]]; then
  exit 0
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "tests/ros2/golden: '$tool' is not installed; run scripts/install-deps.sh" >&2
    exit 1
  fi
done
echo "tests/ros2/golden: npm ci (pinned @foxglove/rosmsg and @foxglove/rosmsg2-serialization)"
# --ignore-scripts: none of these packages needs an install script to work.
if ! npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; then
  echo "tests/ros2/golden: 'npm ci' failed: is the npm registry reachable?" \
       "The golden-bytes test cannot run without these packages." >&2
  exit 1
fi
