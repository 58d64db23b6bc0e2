#!/usr/bin/env bash
# Installs this folder's pinned npm packages (package-lock.json) into
# node_modules; see scripts/npm-ci.sh.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../../../scripts/npm-ci.sh" "$here"
