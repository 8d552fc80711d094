#!/usr/bin/env bash
# Installs everything the test suite needs (Debian packages and the project with its test
# extras), then runs the whole suite. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
exec python3 -m pytest "$@"
