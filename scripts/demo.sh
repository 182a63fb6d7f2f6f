#!/usr/bin/env bash
# The main job, on a fresh machine: set up, run the engine demo (two digits CNNs,
# one memorizing random labels), then the CI gate on the example project, where
# `pytest --memcheck` passes the accepted model and fails the memorizing candidate.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/memcheck demo --threads 2

echo
echo "=== the CI gate: cd examples/digits_project && pytest --memcheck ==="
cd examples/digits_project
set +e
../../.venv/bin/python -m pytest --memcheck -p no:cacheprovider
status=$?
set -e
if [ "$status" -eq 1 ]; then
  echo "demo: the gate passed 'accepted' and failed the memorizing 'candidate' (exit 1), as it should."
  exit 0
fi
echo "demo: expected the gate to fail the candidate with exit 1, got exit $status" >&2
exit 1
