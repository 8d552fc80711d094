#!/usr/bin/env bash
# Installs everything the test suite needs (Debian packages and the project with its test
# extras), then runs the whole suite. This is the README's test command; .ci/run calls it.
# PROBE_VENV=/path installs into (and tests with) a virtualenv there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
python="${PYTHON:-python3}"
if [[ -n ${PROBE_VENV:-} ]]; then
    python="${PROBE_VENV}/bin/python"
fi
exec "${python}" -m pytest "$@"
