"""config.parse/load without pytest: where baselines may live, names, malformed tables."""

from __future__ import annotations

import pytest

from pytest_memcheck import config
from pytest_memcheck.config import ConfigError

TABLE = {"models": {"m": {"model": "a:b", "data": "a:c", "min_auc": 0.5}}}


def test_baseline_dir_inside_the_project_is_kept_relative_to_the_rootdir(tmp_path):
    cfg = config.parse({**TABLE, "baseline_dir": "gates/memcheck"}, tmp_path)
    assert cfg.baseline_dir == tmp_path / "gates" / "memcheck"
    assert config.parse({**TABLE, "baseline_dir": "."}, tmp_path).baseline_dir == tmp_path


def test_baseline_dir_symlinked_outside_the_project_is_refused(tmp_path):
    outside, project = tmp_path / "outside", tmp_path / "project"
    outside.mkdir()
    project.mkdir()
    (project / "gates").symlink_to(outside)
    with pytest.raises(ConfigError, match="baseline_dir = 'gates/x' leads outside the project"):
        config.parse({**TABLE, "baseline_dir": "gates/x"}, project)


def test_tool_that_is_not_a_table_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('tool = "x"\n')
    with pytest.raises(ConfigError, match=r"\[tool\] in .* must be a table"):
        config.load(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool]\nmemcheck = ["x"]\n')
    with pytest.raises(ConfigError, match=r"\[tool.memcheck\] must be a table, got list"):
        config.load(tmp_path)


def test_unrelated_tools_are_not_mistaken_for_misspellings(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.memcached]\nx = 1\n[tool.memray]\ny = 1\n[tool.mypy]\nz = 1\n")
    assert config.load(tmp_path).models == {}
