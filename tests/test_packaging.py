"""Packaging and CI glue: pyproject metadata, the composite action's handling of its inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_expression_that_setuptools_reads_without_warning():
    from setuptools.config.pyprojecttoml import read_configuration

    assert PYPROJECT["project"]["license"] == "MIT"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # setuptools deprecates license = { text = ... } on every install
        read_configuration(ROOT / "pyproject.toml")


def test_torch_is_required_where_weights_only_loading_holds():
    torch_req = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    assert torch_req.replace(" ", "").startswith("torch>=2.6")


yaml = pytest.importorskip("yaml")
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]


def test_action_inputs_reach_the_shell_only_through_the_environment():
    for step in STEPS:
        assert "${{" not in step["run"], step["name"]
    assert {"MEMCHECK_ARGS": "${{ inputs.args }}", "MEMCHECK_REPORT": "${{ inputs.report }}"}.items() <= STEPS[1]["env"].items()


def test_action_installs_cpu_torch_unless_told_otherwise():
    assert ACTION["inputs"]["torch-index-url"]["default"] == "https://download.pytorch.org/whl/cpu"
    assert '--index-url "$MEMCHECK_TORCH_INDEX_URL"' in STEPS[0]["run"]


def _run_step(step: dict, env: dict[str, str], tmp_path: Path) -> list[str]:
    """Run a step's script with bash and a stand-in ``python`` that records its arguments, one per line."""
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> {tmp_path / "calls"}\n')
    stub.chmod(0o755)
    subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, check=True,
        env={**env, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    return (tmp_path / "calls").read_text().splitlines()


@pytest.mark.skipif(sys.platform == "win32", reason="the composite steps run in bash")
def test_hostile_inputs_are_arguments_never_commands(tmp_path):
    (tmp_path / "a_file.py").write_text("")
    hostile = '-k "x" $(touch pwned) `touch pwned2`; touch pwned3 *.py'
    calls = _run_step(STEPS[1], {"MEMCHECK_ARGS": hostile, "MEMCHECK_REPORT": "r.json; touch pwned4"}, tmp_path)
    assert not list(tmp_path.glob("pwned*"))
    assert calls == ["-m", "pytest", "--memcheck", "--memcheck-report=r.json; touch pwned4", *hostile.split(" ")]


@pytest.mark.skipif(sys.platform == "win32", reason="the composite steps run in bash")
def test_install_step_uses_the_torch_index_input(tmp_path):
    calls = _run_step(
        STEPS[0], {"MEMCHECK_TORCH_INDEX_URL": "https://download.pytorch.org/whl/cpu", "MEMCHECK_ACTION_PATH": "/a b"}, tmp_path
    )
    assert calls == ["-m", "pip", "install", "torch", "--index-url", "https://download.pytorch.org/whl/cpu", "-m", "pip", "install", "/a b"]
    (tmp_path / "calls").unlink()
    assert _run_step(STEPS[0], {"MEMCHECK_TORCH_INDEX_URL": "", "MEMCHECK_ACTION_PATH": "."}, tmp_path) == ["-m", "pip", "install", "."]
