#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with torch and the
# project installed in editable mode with its test, plot, vision and lightning extras.
# Safe to re-run: an existing, complete environment is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch, torchvision, pytest_memcheck, sklearn, hypothesis, xdist, matplotlib, lightning" 2>/dev/null; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch and torchvision are pinned together: these builds load each other's operators.
  # lightning goes in the same command, so that its own torch requirement cannot move torch (2.6.6: tested with it).
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" "lightning==2.6.6"
  .venv/bin/python -m pip install -q -e ".[dev]"
fi
