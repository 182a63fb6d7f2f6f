#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with torch and the
# project installed in editable mode with its test, plot and vision extras.
# Safe to re-run: an existing, complete environment is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch, torchvision, pytest_memcheck, sklearn, hypothesis, xdist, matplotlib" 2>/dev/null; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch and torchvision are pinned together: these builds load each other's operators.
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
  .venv/bin/python -m pip install -q -e ".[dev]"
fi
